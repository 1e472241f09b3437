/**
 * Fills a WGSL template's `{{NAME}}` placeholders. Used where a kernel needs compile-time shapes that WGSL
 * `override` constants cannot give (private array sizes) or optional code (subgroups). Every placeholder must be
 * given a value and every value must be used, so a template and its builder cannot drift apart silently.
 */
export function specialize(template: string, values: Record<string, string | number>): string {
  const unused = new Set(Object.keys(values));
  const code = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`WGSL template placeholder {{${name}}} has no value`);
    unused.delete(name);
    return String(values[name]);
  });
  if (unused.size > 0) throw new Error(`WGSL template has no placeholder for: ${[...unused].join(', ')}`);
  return code;
}
