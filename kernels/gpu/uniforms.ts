import { makeShaderDataDefinitions, makeStructuredView, type StructuredView } from 'webgpu-utils';

/**
 * A typed view over a uniform struct declared in WGSL: offsets come from the shader source itself, so TypeScript
 * never restates a layout that could drift from it.
 */
export function uniformView(wgsl: string, variableName: string): StructuredView {
  const definitions = makeShaderDataDefinitions(wgsl);
  const uniform = definitions.uniforms[variableName];
  if (!uniform) throw new Error(`WGSL declares no uniform named "${variableName}"`);
  return makeStructuredView(uniform);
}
