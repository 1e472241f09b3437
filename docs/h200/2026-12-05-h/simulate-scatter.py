"""The index logic of quad-owners.patch (landed as 6ddbb38), simulated for every lane count L and padded row count P
from 1 to 16, with rows in permuted slots and in order, and with ../2026-12-05-i/quad-gqa8.patch's rule (8 rows on 8
or more lanes spread over 4 of them, 2 rows a lane): the reduce-scatter's levels (partner SCATTER_LANES >> (level + 1)) and the
butterflies (partner SCATTER_LANES << level) leave each lane the whole score of its own rows (ownRow), and where
QUAD_OWNERS holds, quad lane rowOwner(r) of every quad owns row r (the lane quadBroadcast reads).

    python3 docs/h200/2026-12-05-h/simulate-scatter.py
"""
import random


def log2(x):
    return x.bit_length() - 1


def check(lanes, padded_rows, permuted, scatter_lanes):
    lane_rows = padded_rows // scatter_lanes
    scatter_levels = log2(scatter_lanes)
    butterfly_levels = log2(lanes) - scatter_levels
    own_row = lambda lane: lane % scatter_lanes * lane_rows
    row_owner = lambda r: r // lane_rows
    share = [[random.random() for _ in range(padded_rows)] for _ in range(lanes)]
    # held[lane][slot]: in permuted slots, slot s holds row s ^ ownRow(lane); otherwise row s.
    held = [[share[lane][s ^ own_row(lane) if permuted else s] for s in range(padded_rows)] for lane in range(lanes)]
    for level in range(scatter_levels):
        partner = scatter_lanes >> (level + 1)
        half = padded_rows >> (level + 1)
        new = [h[:] for h in held]
        for lane in range(lanes):
            other = lane ^ partner
            for j in range(half):
                if permuted:
                    new[lane][j] = held[lane][j] + held[other][j + half]
                else:
                    upper, other_upper = (lane & partner) != 0, (other & partner) != 0
                    kept = held[lane][j + half] if upper else held[lane][j]
                    given = held[other][j] if other_upper else held[other][j + half]
                    new[lane][j] = kept + given
        held = new
    for level in range(butterfly_levels):
        partner = scatter_lanes << level
        held = [[held[lane][j] + held[lane ^ partner][j] if j < lane_rows else held[lane][j]
                 for j in range(padded_rows)] for lane in range(lanes)]
    for lane in range(lanes):
        for j in range(lane_rows):
            r = own_row(lane) + j
            assert abs(held[lane][j] - sum(share[x][r] for x in range(lanes))) < 1e-9, (lanes, padded_rows, lane, j)
    quad_owners = scatter_lanes <= 4 and lanes >= 4
    for r in range(padded_rows):
        assert own_row(row_owner(r)) <= r < own_row(row_owner(r)) + lane_rows
        if quad_owners:
            for lane in range(lanes):
                source = lane - lane % 4 + row_owner(r)
                assert own_row(source) <= r < own_row(source) + lane_rows, (lanes, padded_rows, lane, r)


cases = 0
for lanes in (1, 2, 4, 8, 16):
    for padded_rows in (1, 2, 4, 8, 16):
        rules = {min(padded_rows, lanes), 4 if lanes >= 8 and padded_rows == 8 else min(padded_rows, lanes)}
        for scatter_lanes in rules:
            for permuted in (True, False):
                check(lanes, padded_rows, permuted, scatter_lanes)
                cases += 1
print(f'every lane ends with its own rows whole, and every quad owns every row where QUAD_OWNERS: {cases} cases')
