/** JSON as a tree: objects and arrays fold (open at first), leaves coloured by type; text only, never HTML. */
export function JsonTree({ value, label }: { value: unknown; label?: string }) {
  const name = label !== undefined && <span className="json-key">{label}: </span>;
  if (typeof value !== 'object' || value === null) {
    const kind = value === null ? 'null' : typeof value;
    return (
      <div className="json-leaf">
        {name}
        <span className={`json-${kind}`}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, i) => [String(i), item]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  const size = Array.isArray(value) ? `${entries.length} item${entries.length === 1 ? '' : 's'}` : `${entries.length} key${entries.length === 1 ? '' : 's'}`;
  return (
    <details className="json-node" open>
      <summary>
        {name}
        {open}
        <span className="muted"> {size} </span>
        {close}
      </summary>
      <div className="json-children">
        {entries.map(([key, item]) => (
          <JsonTree key={key} label={key} value={item} />
        ))}
      </div>
    </details>
  );
}
