// Where each artifact lives in the store: the layout DATA_DIR has always had, so the fs store keeps
// existing data readable. Prefixes end with `/`.
export const datasetPrefix = (id: string) => `datasets/${id}/`;
export const modelPrefix = (id: string) => `models/${id}/`;
/** A run's checkpoint generations and their pointer (see saveGeneration). */
export const checkpointPrefix = (jobId: string) => `checkpoints/${jobId}/`;
export const predictionsKey = (jobId: string) => `predictions/${jobId}.jsonl`;
