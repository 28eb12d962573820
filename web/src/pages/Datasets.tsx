// Datasets: the list, and one dataset's preview grid, class balance per split, quality report and statistics.
import { useRoute } from 'preact-iso';
import { api, call, type Dataset } from '../api.ts';
import { GroupedBars } from '../components/charts.tsx';
import { ApiImage, ErrorBox, Json, KV, Section } from '../components/ui.tsx';
import { bytes, num, short, useLoad, useTitle, when } from '../util.ts';

const SPLITS = ['train', 'val', 'test'] as const;

export function DatasetsPage() {
  useTitle('Datasets');
  const list = useLoad(() => call(api.GET('/v1/datasets', { params: { query: { limit: 100 } } })), []);
  return (
    <main id="main" class="page">
      <h1>Datasets</h1>
      <ErrorBox error={list.error} />
      <section class="card">
        <div class="scroll-x">
          <table class="list" aria-label="Prepared datasets, newest first">
            <thead>
              <tr>
                <th scope="col">Dataset</th>
                <th scope="col">Name</th>
                <th scope="col">Source</th>
                {SPLITS.map((s) => (
                  <th scope="col" key={s}>
                    {s}
                  </th>
                ))}
                <th scope="col">Size</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.items ?? []).map((d) => (
                <tr key={d.id}>
                  <td>
                    <a href={`/ui/datasets/${d.id}`} class="mono">
                      {short(d.id)}
                    </a>
                  </td>
                  <td>{d.name ?? '–'}</td>
                  <td>{sourceName(d.source)}</td>
                  {SPLITS.map((s) => (
                    <td key={s}>{((d.counts as any)?.[s] ?? 0).toLocaleString()}</td>
                  ))}
                  <td>{bytes(d.sizeBytes)}</td>
                  <td>{when(d.createdAt)}</td>
                </tr>
              ))}
              {list.data?.items.length === 0 && (
                <tr>
                  <td colSpan={8}>
                    No dataset yet: <a href="/ui/">prepare one</a>.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </main>
  );
}

const sourceName = (s: unknown) => (typeof s === 'string' ? s : (s as any)?.kind ?? (s as any)?.name ?? (s as any)?.url ?? JSON.stringify(s));

export function DatasetPage() {
  const id = useRoute().params.id!;
  useTitle(`Dataset ${short(id)}`);
  const ds = useLoad(() => call(api.GET('/v1/datasets/{id}', { params: { path: { id } } })), [id]);
  const d = ds.data as (Dataset & { manifest?: any }) | undefined;
  const stats = (d?.stats ?? {}) as any;
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
                  ['source', sourceName(d.source)],
                  ...SPLITS.map((s) => [`${s} images`, ((d.counts as any)?.[s] ?? 0).toLocaleString()] as [string, string]),
                  ['classes', String(d.numClasses)],
                  ['image size', `${d.width}×${d.height}`],
                  ['augmented copies', (stats.augmentedCount ?? 0).toLocaleString()],
                  ...Object.entries(stats.pixelStats ?? {}).map(([s, v]: [string, any]) => [`${s} pixel mean / std`, `${num(v.mean)} / ${num(v.std)}`] as [string, string]),
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
                ...Object.entries(dup?.across ?? {}).map(([pair, v]: [string, any]) => [`leakage ${pair}`, `${v.images} images`] as [string, string]),
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
