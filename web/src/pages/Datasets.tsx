// Datasets: the list, and one dataset's preview grid, class balance per split, quality report and statistics.
import { useRoute } from 'preact-iso';
import { api, call, datasetCounts, datasetSourceName, datasetStats, type Dataset } from '../api.ts';
import { GroupedBars } from '../components/charts.tsx';
import { ApiImage, ErrorBox, Json, KV, ListPage, Section } from '../components/ui.tsx';
import { bytes, num, short, useLoad, useTitle, when } from '../util.ts';

const SPLITS = ['train', 'val', 'test'] as const;

export function DatasetsPage() {
  useTitle('Datasets');
  const list = useLoad(() => call(api.GET('/v1/datasets', { params: { query: { limit: 100 } } })), []);
  return (
    <ListPage
      title="Datasets"
      label="Prepared datasets, newest first"
      columns={['Dataset', 'Name', 'Source', ...SPLITS, 'Size', 'Created']}
      items={list.data?.items}
      error={list.error}
      empty={
        <>
          No dataset yet: <a href="/ui/">prepare one</a>.
        </>
      }
      row={(d) => (
        <tr key={d.id}>
          <td>
            <a href={`/ui/datasets/${d.id}`} class="mono">
              {short(d.id)}
            </a>
          </td>
          <td>{d.name ?? '–'}</td>
          <td>{datasetSourceName(d)}</td>
          {SPLITS.map((s) => (
            <td key={s}>{(datasetCounts(d)?.[s] ?? 0).toLocaleString()}</td>
          ))}
          <td>{bytes(d.sizeBytes)}</td>
          <td>{when(d.createdAt)}</td>
        </tr>
      )}
    />
  );
}

export function DatasetPage() {
  const id = useRoute().params.id!;
  useTitle(`Dataset ${short(id)}`);
  const ds = useLoad(() => call(api.GET('/v1/datasets/{id}', { params: { path: { id } } })), [id]);
  // An API that answers the dataset's manifest has the class counts there too.
  const d = ds.data as (Dataset & { manifest?: { classCounts?: Record<string, number[]> } }) | undefined;
  const stats = (d && datasetStats(d)) ?? {};
  const classCounts: Record<string, number[]> = stats.classCounts ?? d?.manifest?.classCounts ?? {};
  const dup = stats.duplicates;
  return (
    <main id="main" class="page">
      <h1>
        Dataset <span class="mono">{short(id)}</span> {d?.name && <span>· {d.name}</span>}
      </h1>
      <ErrorBox error={ds.error} />
      {d && (
        <>
          <div class="grid-2">
            <Section title="Preview">
              <ApiImage path={`/v1/datasets/${id}/preview.png`} alt="Sample images per class" class="preview" />
            </Section>
            <Section title="Statistics">
              <KV
                items={[
                  ['source', datasetSourceName(d)],
                  ...SPLITS.map((s) => [`${s} images`, (datasetCounts(d)?.[s] ?? 0).toLocaleString()] as [string, string]),
                  ['classes', String(d.numClasses)],
                  ['image size', `${d.width}×${d.height}`],
                  ['augmented copies', (stats.augmentedCount ?? 0).toLocaleString()],
                  ...Object.entries(stats.pixelStats ?? {}).map(([s, v]) => [`${s} pixel mean / std`, `${num(v.mean)} / ${num(v.std)}`] as [string, string]),
                  ['on disk', bytes(d.sizeBytes)],
                  ['created', when(d.createdAt)],
                ]}
              />
            </Section>
          </div>
          <Section title="Class balance">
            <GroupedBars
              title="Images per class and split"
              groups={Array.from({ length: d.numClasses }, (_, i) => String(i))}
              series={SPLITS.filter((s) => classCounts[s]?.some((v) => v > 0)).map((s) => ({ label: s, values: classCounts[s]! }))}
            />
            <div class="scroll-x">
              <table class="list num" aria-label="Images per class and split">
                <thead>
                  <tr>
                    <th scope="col">split</th>
                    {Array.from({ length: d.numClasses }, (_, i) => (
                      <th scope="col" key={i}>
                        {i}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {SPLITS.filter((s) => classCounts[s]).map((s) => (
                    <tr key={s}>
                      <th scope="row">{s}</th>
                      {classCounts[s]!.map((v, i) => (
                        <td key={i}>{v}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Quality report">
            <KV
              items={[
                ...SPLITS.map((s) => [`blank images in ${s}`, String(stats.blankImages?.[s] ?? '–')] as [string, string]),
                ...SPLITS.map((s) => [`duplicates within ${s}`, dup?.within?.[s] ? `${dup.within[s].duplicates} (${dup.within[s].groups} groups)` : '–'] as [string, string]),
                ...Object.entries(dup?.across ?? {}).map(([pair, v]) => [`leakage ${pair}`, `${v.images} images`] as [string, string]),
              ]}
            />
            {dup?.scope && <p class="note">Duplicates are counted over the original images ({dup.scope}); augmented copies derive from training images by design.</p>}
          </Section>
          <Section title="Parameters">
            <Json value={d.params} />
          </Section>
        </>
      )}
    </main>
  );
}
