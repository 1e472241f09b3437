import { makeShaderDataDefinitions, makeStructuredView, type StructuredView } from 'webgpu-utils';

// Only the declarations a uniform's layout depends on: webgpu-utils' WGSL parser stumbles on some function bodies
// and constant expressions that are valid WGSL, and a layout never depends on them.
const STRUCT_DECLARATION = /struct\s+\w+\s*\{[^}]*\}/g;
const UNIFORM_DECLARATION = /@group\(\d+\)\s*@binding\(\d+\)\s*var<uniform>\s*\w+\s*:\s*\w+\s*;/g;

/**
 * A typed view over a uniform struct declared in WGSL: offsets come from the shader source itself, so TypeScript
 * never restates a layout that could drift from it.
 */
export function uniformView(wgsl: string, variableName: string): StructuredView {
  const declarations = [...(wgsl.match(STRUCT_DECLARATION) ?? []), ...(wgsl.match(UNIFORM_DECLARATION) ?? [])];
  const definitions = makeShaderDataDefinitions(declarations.join('\n'));
  const uniform = definitions.uniforms[variableName];
  if (!uniform) throw new Error(`WGSL declares no uniform named "${variableName}"`);
  return makeStructuredView(uniform);
}
