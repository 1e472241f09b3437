// What the Vulkan driver makes of a SPIR-V compute shader: VK_KHR_pipeline_executable_properties' statistics
// (registers, local memory, binary size, ...) and internal representations, for the SPIR-V Dawn generated
// (its dump_shaders toggle). Dawn does not expose the extension, so this builds the pipeline again beside it.
//
//   cc -O1 -o pipeline-stats pipeline-stats.c -lvulkan
//   ./pipeline-stats OUT_DIR shader.spv...     (binary internal representations go to OUT_DIR/<shader>.<n>.bin)
//
// The pipeline layout is read from the SPIR-V (each variable's descriptor set, binding and storage class); every
// feature the device supports is enabled, so whatever Dawn enabled is too.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    VkResult result_ = (call);                                                             \
    if (result_ != VK_SUCCESS) {                                                           \
      fprintf(stderr, "%s:%d: %s failed: VkResult %d\n", __FILE__, __LINE__, #call, result_); \
      return 1;                                                                            \
    }                                                                                      \
  } while (0)

enum { MAX_SETS = 4, MAX_BINDINGS = 32 };

// VK_KHR_shader_maximal_reconvergence is newer than Debian 12's headers (1.3.239), and Dawn's SPIR-V for NVIDIA
// declares MaximallyReconvergesKHR: the feature structure as the registry defines it.
typedef struct {
  VkStructureType sType;
  void *pNext;
  VkBool32 shaderMaximalReconvergence;
} MaximalReconvergenceFeatures;
#define STRUCTURE_TYPE_MAXIMAL_RECONVERGENCE_FEATURES ((VkStructureType)1000434000)

// The device extensions enabled where offered: the one this tool needs, and those Dawn's SPIR-V may use.
static const char *const WANTED_EXTENSIONS[] = {
    VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME,
    "VK_KHR_shader_maximal_reconvergence",
    VK_KHR_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_EXTENSION_NAME,
};
enum { WANTED_COUNT = sizeof WANTED_EXTENSIONS / sizeof WANTED_EXTENSIONS[0] };
enum { OP_VARIABLE = 59, OP_DECORATE = 71 };
enum { DECORATION_BINDING = 33, DECORATION_DESCRIPTOR_SET = 34 };
enum { STORAGE_UNIFORM = 2, STORAGE_PUSH_CONSTANT = 9, STORAGE_STORAGE_BUFFER = 12 };

typedef struct {
  uint32_t *words;
  size_t count;
} Spirv;

static int read_spirv(const char *path, Spirv *spirv) {
  FILE *file = fopen(path, "rb");
  if (!file) return 0;
  fseek(file, 0, SEEK_END);
  long bytes = ftell(file);
  fseek(file, 0, SEEK_SET);
  spirv->words = malloc(bytes);
  spirv->count = bytes / 4;
  size_t read = fread(spirv->words, 1, bytes, file);
  fclose(file);
  return read == (size_t)bytes && spirv->count > 5 && spirv->words[0] == 0x07230203;
}

typedef struct {
  VkDescriptorSetLayoutBinding bindings[MAX_SETS][MAX_BINDINGS];
  uint32_t binding_count[MAX_SETS];
  uint32_t set_count;
  int push_constants;
} Layout;

// Descriptor set and binding of each decorated id, then each variable's storage class: the pipeline layout.
static void read_layout(const Spirv *spirv, Layout *layout) {
  uint32_t bound = spirv->words[3];
  int32_t *set = malloc(bound * sizeof *set), *binding = malloc(bound * sizeof *binding);
  for (uint32_t i = 0; i < bound; i++) set[i] = binding[i] = -1;
  memset(layout, 0, sizeof *layout);
  for (size_t at = 5; at < spirv->count;) {
    const uint32_t *op = spirv->words + at;
    uint32_t length = op[0] >> 16, code = op[0] & 0xffff;
    if (length == 0) break;
    if (code == OP_DECORATE && op[2] == DECORATION_DESCRIPTOR_SET) set[op[1]] = op[3];
    if (code == OP_DECORATE && op[2] == DECORATION_BINDING) binding[op[1]] = op[3];
    if (code == OP_VARIABLE) {
      uint32_t id = op[2], storage = op[3];
      if (storage == STORAGE_PUSH_CONSTANT) layout->push_constants = 1;
      if (set[id] >= 0 && set[id] < MAX_SETS && (storage == STORAGE_UNIFORM || storage == STORAGE_STORAGE_BUFFER)) {
        uint32_t s = set[id];
        VkDescriptorSetLayoutBinding *entry = &layout->bindings[s][layout->binding_count[s]++];
        entry->binding = binding[id];
        entry->descriptorType =
            storage == STORAGE_UNIFORM ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        entry->descriptorCount = 1;
        entry->stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
        if (s + 1 > layout->set_count) layout->set_count = s + 1;
      }
    }
    at += length;
  }
  free(set);
  free(binding);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static void print_statistic(const VkPipelineExecutableStatisticKHR *statistic) {
  printf("  %-32s ", statistic->name);
  switch (statistic->format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: printf("%s", statistic->value.b32 ? "true" : "false"); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: printf("%lld", (long long)statistic->value.i64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: printf("%llu", (unsigned long long)statistic->value.u64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: printf("%g", statistic->value.f64); break;
    default: printf("(format %d)", statistic->format);
  }
  printf("   (%s)\n", statistic->description);
}

static PFN_vkGetPipelineExecutablePropertiesKHR get_executables;
static PFN_vkGetPipelineExecutableStatisticsKHR get_statistics;
static PFN_vkGetPipelineExecutableInternalRepresentationsKHR get_representations;

// Each executable of the pipeline (a compute pipeline has one): its statistics printed, its internal representations
// written to OUT_DIR. Returns nonzero when a query fails.
static int report_executables(VkDevice device, VkPipeline pipeline, const char *out_dir, const char *path) {
  VkPipelineInfoKHR pipeline_ref = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipeline};
  uint32_t executable_count = 0;
  CHECK(get_executables(device, &pipeline_ref, &executable_count, NULL));
  VkPipelineExecutablePropertiesKHR *executables = calloc(executable_count, sizeof *executables);
  for (uint32_t e = 0; e < executable_count; e++) executables[e].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  CHECK(get_executables(device, &pipeline_ref, &executable_count, executables));
  for (uint32_t e = 0; e < executable_count; e++) {
    printf("executable %u: %s (%s), subgroup size %u\n", e, executables[e].name, executables[e].description,
           executables[e].subgroupSize);
    VkPipelineExecutableInfoKHR executable = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipeline, e};
    uint32_t statistic_count = 0;
    CHECK(get_statistics(device, &executable, &statistic_count, NULL));
    VkPipelineExecutableStatisticKHR *statistics = calloc(statistic_count, sizeof *statistics);
    for (uint32_t s = 0; s < statistic_count; s++) statistics[s].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
    CHECK(get_statistics(device, &executable, &statistic_count, statistics));
    for (uint32_t s = 0; s < statistic_count; s++) print_statistic(&statistics[s]);
    free(statistics);

    uint32_t representation_count = 0;
    CHECK(get_representations(device, &executable, &representation_count, NULL));
    VkPipelineExecutableInternalRepresentationKHR *representations = calloc(representation_count, sizeof *representations);
    for (uint32_t r = 0; r < representation_count; r++)
      representations[r].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
    CHECK(get_representations(device, &executable, &representation_count, representations));  // sizes
    for (uint32_t r = 0; r < representation_count; r++) representations[r].pData = malloc(representations[r].dataSize);
    CHECK(get_representations(device, &executable, &representation_count, representations));
    for (uint32_t r = 0; r < representation_count; r++) {
      const VkPipelineExecutableInternalRepresentationKHR *ir = &representations[r];
      printf("  representation %u: %s (%s), %zu bytes, %s\n", r, ir->name, ir->description, ir->dataSize,
             ir->isText ? "text" : "binary");
      char file_name[512];
      snprintf(file_name, sizeof file_name, "%s/%s.%u.%u.%s", out_dir, base_name(path), e, r, ir->isText ? "txt" : "bin");
      FILE *file = fopen(file_name, "wb");
      if (file) {
        fwrite(ir->pData, 1, ir->isText && ir->dataSize ? ir->dataSize - 1 : ir->dataSize, file);
        fclose(file);
        printf("    written to %s\n", file_name);
      }
      free(ir->pData);
    }
    free(representations);
  }
  free(executables);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT_DIR shader.spv...\n", argv[0]);
    return 2;
  }
  const char *out_dir = argv[1];
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "pipeline-stats", 1, NULL, 0, VK_API_VERSION_1_3};
  VkInstanceCreateInfo instance_info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app};
  VkInstance instance;
  CHECK(vkCreateInstance(&instance_info, NULL, &instance));
  uint32_t device_count = 1;
  VkPhysicalDevice physical;
  vkEnumeratePhysicalDevices(instance, &device_count, &physical);
  if (device_count == 0) {
    fprintf(stderr, "no Vulkan device\n");
    return 1;
  }
  VkPhysicalDeviceProperties properties;
  vkGetPhysicalDeviceProperties(physical, &properties);
  printf("device: %s, driver version 0x%x, Vulkan %u.%u\n", properties.deviceName, properties.driverVersion,
         VK_API_VERSION_MAJOR(properties.apiVersion), VK_API_VERSION_MINOR(properties.apiVersion));

  // Every supported feature on, the executable-properties one included.
  MaximalReconvergenceFeatures reconvergence_features = {STRUCTURE_TYPE_MAXIMAL_RECONVERGENCE_FEATURES};
  VkPhysicalDeviceShaderSubgroupUniformControlFlowFeaturesKHR uniform_control_flow_features = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_FEATURES_KHR, &reconvergence_features};
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR executable_features = {
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, &uniform_control_flow_features};
  VkPhysicalDeviceVulkan13Features features13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES, &executable_features};
  VkPhysicalDeviceVulkan12Features features12 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &features13};
  VkPhysicalDeviceVulkan11Features features11 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &features12};
  VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &features11};
  vkGetPhysicalDeviceFeatures2(physical, &features);
  // Without the extension the pipelines are still built: the SPIR-V and the layout read from it are checked.
  int capture = executable_features.pipelineExecutableInfo;
  if (!capture) printf("the driver does not offer VK_KHR_pipeline_executable_properties: pipelines built, no statistics\n");
  float priority = 1;
  uint32_t queue_family = 0;  // any family will do: nothing is submitted
  VkDeviceQueueCreateInfo queue_info = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, queue_family, 1, &priority};
  uint32_t offered_count = 0;
  vkEnumerateDeviceExtensionProperties(physical, NULL, &offered_count, NULL);
  VkExtensionProperties *offered = calloc(offered_count, sizeof *offered);
  vkEnumerateDeviceExtensionProperties(physical, NULL, &offered_count, offered);
  const char *extensions[WANTED_COUNT];
  uint32_t extension_count = 0;
  for (uint32_t w = 0; w < WANTED_COUNT; w++)
    for (uint32_t o = 0; o < offered_count; o++)
      if (strcmp(WANTED_EXTENSIONS[w], offered[o].extensionName) == 0) {
        extensions[extension_count++] = WANTED_EXTENSIONS[w];
        printf("extension enabled: %s\n", WANTED_EXTENSIONS[w]);
      }
  free(offered);
  VkDeviceCreateInfo device_info = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features, 0, 1, &queue_info, 0, NULL,
                                    extension_count, extensions};
  VkDevice device;
  CHECK(vkCreateDevice(physical, &device_info, NULL, &device));
  get_executables = (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutablePropertiesKHR");
  get_statistics = (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutableStatisticsKHR");
  get_representations = (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)vkGetDeviceProcAddr(
          device, "vkGetPipelineExecutableInternalRepresentationsKHR");

  for (int a = 2; a < argc; a++) {
    const char *path = argv[a];
    Spirv spirv;
    if (!read_spirv(path, &spirv)) {
      printf("## %s: not a SPIR-V binary\n", path);
      continue;
    }
    Layout layout;
    read_layout(&spirv, &layout);
    VkDescriptorSetLayout set_layouts[MAX_SETS];
    for (uint32_t s = 0; s < layout.set_count; s++) {
      VkDescriptorSetLayoutCreateInfo set_info = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0,
                                                  layout.binding_count[s], layout.bindings[s]};
      CHECK(vkCreateDescriptorSetLayout(device, &set_info, NULL, &set_layouts[s]));
    }
    VkPushConstantRange push = {VK_SHADER_STAGE_COMPUTE_BIT, 0, 128};
    VkPipelineLayoutCreateInfo layout_info = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, layout.set_count,
                                              set_layouts, layout.push_constants ? 1 : 0, &push};
    VkPipelineLayout pipeline_layout;
    CHECK(vkCreatePipelineLayout(device, &layout_info, NULL, &pipeline_layout));
    VkShaderModuleCreateInfo module_info = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, spirv.count * 4, spirv.words};
    VkShaderModule module;
    CHECK(vkCreateShaderModule(device, &module_info, NULL, &module));
    VkComputePipelineCreateInfo pipeline_info = {
        VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL,
        capture ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR | VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0,
        {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, "dawn_entry_point"},
        pipeline_layout};
    VkPipeline pipeline;
    printf("## %s: %u descriptor sets%s\n", path, layout.set_count, layout.push_constants ? ", push constants" : "");
    VkResult built = vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &pipeline_info, NULL, &pipeline);
    if (built != VK_SUCCESS) {
      printf("  the driver did not build it: VkResult %d\n", built);  // the next shader may still build
      pipeline = VK_NULL_HANDLE;
    }
    for (uint32_t s = 0; s < layout.set_count; s++)
      for (uint32_t b = 0; b < layout.binding_count[s]; b++)
        printf("  set %u binding %u: %s\n", s, layout.bindings[s][b].binding,
               layout.bindings[s][b].descriptorType == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER ? "uniform" : "storage");
    if (capture && pipeline && report_executables(device, pipeline, out_dir, path)) return 1;
    vkDestroyPipeline(device, pipeline, NULL);
    vkDestroyShaderModule(device, module, NULL);
    vkDestroyPipelineLayout(device, pipeline_layout, NULL);
    for (uint32_t s = 0; s < layout.set_count; s++) vkDestroyDescriptorSetLayout(device, set_layouts[s], NULL);
    free(spirv.words);
  }
  vkDestroyDevice(device, NULL);
  vkDestroyInstance(instance, NULL);
  return 0;
}
