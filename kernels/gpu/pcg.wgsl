// PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020): a well-mixed u32 from a u32.
fn pcg(input: u32) -> u32 {
  let state = input * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
