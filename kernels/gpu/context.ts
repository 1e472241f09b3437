import { EngineError } from '../../errors/engineError.ts';

/** Optional features the engine uses when the adapter offers them. */
const WANTED_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16', 'chromium-experimental-subgroup-matrix'] as const;

/** Limits requested at the adapter's maximum: model weights and KV pools want the biggest buffers there are. */
const MAXED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A stable key for per-adapter caches such as the attention grid calibration. */
  key: string;
  /** A CPU implementation (SwiftShader, llvmpipe): few cores, so kernels prefer fewer, larger workgroups. */
  isCpu: boolean;
  /** The host's logical cores: a CPU adapter runs one workgroup on each at a time (SwiftShader's scheduler uses them all). */
  hostCores: number;
}

export interface GpuFeatures {
  timestampQuery: boolean;
  subgroups: boolean;
  shaderF16: boolean;
  /** Subgroup size range the adapter reports (0 when subgroups are absent). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** The matrix units' f16 × f16 → f32 operation, where the adapter offers subgroup matrices (tensor cores). */
  matrixUnits?: MatrixUnitShape;
}

/** One subgroup matrix operation: left M × K times right K × N into M × N, by subgroups of `subgroupSize`. */
export interface MatrixUnitShape {
  M: number;
  N: number;
  K: number;
  subgroupSize: number;
}

/** A configuration as Dawn lists it in `adapter.info.subgroupMatrixConfigs` (Chrome: GPUSubgroupMatrixConfig). */
interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterDescription;
  features: GpuFeatures;
  limits: GPUSupportedLimits;
  /** Resolves (never rejects) when the device is lost, with the typed error that says why (its user says what to do). */
  lost: Promise<EngineError>;
  /** The most recent uncaptured GPU error, if any: checked by callers after a step. */
  takeUncapturedError(): EngineError | undefined;
  destroy(): void;
}

/** Whether the adapter is a CPU implementation (SwiftShader, llvmpipe, WARP); also readable from a device's `adapterInfo`. */
export function isCpuAdapterInfo(info: GPUAdapterInfo): boolean {
  return /swiftshader|llvmpipe|lavapipe|warp/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

export function describeAdapter(adapter: GPUAdapter, hostCores = globalThis.navigator?.hardwareConcurrency ?? 1): AdapterDescription {
  const info = adapter.info;
  const vendor = info.vendor || 'unknown vendor';
  const architecture = info.architecture || '';
  const device = info.device || '';
  const description = info.description || [vendor, architecture, device].filter(Boolean).join(' ');
  return { vendor, architecture, device, description, key: [vendor, architecture, device, description].join('|'), isCpu: isCpuAdapterInfo(info), hostCores };
}

/**
 * Opens a device on `adapter` with every wanted feature it has and its largest limits. `hostCores`: the host's
 * logical cores where `navigator` does not say (Node before 21).
 */
export async function createGpuContext(adapter: GPUAdapter, hostCores?: number): Promise<GpuContext> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of MAXED_LIMITS) requiredLimits[name] = adapter.limits[name];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (cause) {
    throw new EngineError(
      'gpu-unavailable',
      `The WebGPU adapter refused to open a device (${(cause as Error).message}). Close other GPU-heavy tabs or ` +
        'restart the browser, then try again.',
    );
  }

  let uncaptured: EngineError | undefined;
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    uncaptured = gpuErrorToEngineError(error, 'a GPU command');
  });

  const lost = device.lost.then(
    (info) =>
      new EngineError(
        'gpu-device-lost',
        `The GPU device was lost (${info.reason || 'unknown reason'}: ${info.message || 'no details'}): a driver reset, ` +
          'memory pressure or a tab in the background can cause it.',
      ),
  );

  const subgroups = device.features.has('subgroups');
  const adapterInfo = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: SubgroupMatrixConfig[] };
  return {
    device,
    adapter: describeAdapter(adapter, hostCores),
    features: {
      timestampQuery: device.features.has('timestamp-query'),
      subgroups,
      shaderF16: device.features.has('shader-f16'),
      subgroupMinSize: subgroups ? (adapterInfo.subgroupMinSize ?? 0) : 0,
      subgroupMaxSize: subgroups ? (adapterInfo.subgroupMaxSize ?? 0) : 0,
      matrixUnits: matrixUnitShape(device, adapterInfo),
    },
    limits: device.limits,
    lost,
    takeUncapturedError() {
      const error = uncaptured;
      uncaptured = undefined;
      return error;
    },
    destroy: () => device.destroy(),
  };
}

/**
 * The f16 × f16 → f32 subgroup matrix configuration a kernel can use (16 × 16 × 16 where offered, else the largest),
 * on a device with subgroup matrices and f16 whose subgroups have one known size; undefined otherwise.
 */
function matrixUnitShape(device: GPUDevice, info: { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: SubgroupMatrixConfig[] }): MatrixUnitShape | undefined {
  const usable = ['chromium-experimental-subgroup-matrix', 'shader-f16', 'subgroups'].every((f) => device.features.has(f));
  const subgroupSize = info.subgroupMaxSize ?? 0;
  if (!usable || !subgroupSize || info.subgroupMinSize !== subgroupSize) return undefined;
  const configs = (info.subgroupMatrixConfigs ?? []).filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32');
  const size = (c: SubgroupMatrixConfig) => c.M * c.N * c.K;
  const best = configs.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? configs.sort((a, b) => size(b) - size(a))[0];
  return best && { M: best.M, N: best.N, K: best.K, subgroupSize };
}

export function gpuErrorToEngineError(error: GPUError, during: string): EngineError {
  if (error instanceof GPUOutOfMemoryError || error.constructor?.name === 'GPUOutOfMemoryError') {
    return new EngineError(
      'gpu-out-of-memory',
      `The GPU ran out of memory during ${during}: use a smaller model or a smaller KV budget.`,
    );
  }
  return new EngineError('gpu-validation', `WebGPU rejected ${during}: ${error.message}`);
}

/**
 * Runs `work` inside validation and out-of-memory error scopes and throws the first error as a typed EngineError,
 * so a failure is pinned on the operation that caused it instead of surfacing later.
 */
export async function withGpuErrorScope<T>(device: GPUDevice, during: string, work: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await work();
  } finally {
    const validation = await device.popErrorScope();
    const outOfMemory = await device.popErrorScope();
    const error = validation ?? outOfMemory;
    if (error) throw gpuErrorToEngineError(error, during);
  }
  return result;
}
