/** The Hugging Face Hub: datasets in (loadHubDataset, reached by data's loadDataset), adapters and models out (pushToHub, modelCard). */
export { loadHubDataset, HubDatasetOptions } from './dataset';
export { pushToHub, PushOptions, PushResult, folderUploads } from './push';
export { modelCard, writeModelCard, updateModelCard, ModelCardInfo, MODEL_CARD_NAME } from './card';
export { isOffline, hubEndpoint } from './cache';
