// The public shape of a model (GET /v1/models/:id), shared by the API and the model.* webhook events.
import type { Model as ModelRow } from '../generated/prisma/client.js';

export const toApiModel = (m: ModelRow & { aliases: { alias: string }[] }) => ({
  id: m.id,
  architecture: m.architecture,
  datasetId: m.datasetId,
  parentModelId: m.parentModelId,
  params: m.params,
  metrics: m.metrics,
  lineage: m.lineage,
  normalization: m.normalization,
  inputShape: m.inputShape as number[],
  numClasses: m.numClasses,
  backend: m.backend,
  sizeBytes: Number(m.sizeBytes),
  aliases: m.aliases.map((a) => a.alias),
  createdAt: m.createdAt.toISOString(),
});
