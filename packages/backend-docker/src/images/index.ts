export {
  buildImages,
  ensureBaseImage,
  requireDockerEngine,
  CONTENT_HASH_LABEL,
  IMAGE_NAMES,
  type BaseImage,
  type BuildImagesOptions,
  type BuiltImage,
  type EnsureBaseImageOptions,
  type ImageBuildEvent,
  type ImageName,
  type ImageProgress,
} from "./build.js";
export { contextHash, type ContextHashInput } from "./context-hash.js";
