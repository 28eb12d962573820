// Models: the registry, and one model's metrics, lineage, aliases (with the control that moves
// `production` or any alias) and file downloads.
import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, apiPaths, call, errorText, modelLineage, modelMetrics, type Model } from '../api.ts';
import { ApiDownload, ApiImage, ErrorBox, Json, KV, ListPage, RoleButton, Section } from '../components/ui.tsx';
import { MisclassifiedGrid, TestMetrics } from '../components/RunViews.tsx';
import { bytes, pct, short, useLoad, useTitle, when } from '../util.ts';

const testOf = (m: Model) => modelMetrics(m)?.test ?? undefined;

export function ModelsPage() {
  useTitle('Models');
  const list = useLoad(() => call(api.GET('/v1/models', { params: { query: { limit: 100 } } })), []);
  return (
    <ListPage
      title="Model registry"
      label="Models, newest first"
      columns={['Model', 'Architecture', 'Test accuracy', 'Aliases', 'Dataset', 'Base model', 'Created']}
      items={list.data?.items}
      error={list.error}
      empty={
        <>
          No model yet: <a href="/ui/">train one</a>.
        </>
      }
      row={(m) => (
        <tr key={m.id}>
          <td>
            <a href={`/ui/models/${m.id}`} class="mono">
              {short(m.id)}
            </a>
          </td>
          <td>{m.architecture}</td>
          <td>{pct(testOf(m)?.accuracy, 2)}</td>
          <td>
            {m.aliases.map((a) => (
              <span class="tag" key={a}>
                {a}
              </span>
            ))}
          </td>
          <td>
            <a href={`/ui/datasets/${m.datasetId}`} class="mono">
              {short(m.datasetId)}
            </a>
          </td>
          <td>{m.parentModelId ? <a href={`/ui/models/${m.parentModelId}`} class="mono">{short(m.parentModelId)}</a> : '–'}</td>
          <td>{when(m.createdAt)}</td>
        </tr>
      )}
    />
  );
}

export function ModelPage() {
  const id = useRoute().params.id!;
  useTitle(`Model ${short(id)}`);
  const { route } = useLocation();
  const model = useLoad(() => call(api.GET('/v1/models/{id}', { params: { path: { id } } })), [id]);
  const [alias, setAlias] = useState('production');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const m = model.data;

  const act = async (what: () => Promise<unknown>, done: string) => {
    setError(null);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      model.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const pointAlias = (e: Event) => {
    e.preventDefault();
    const a = alias.trim();
    void act(() => call(api.PUT('/v1/models/aliases/{alias}', { params: { path: { alias: a } }, body: { modelId: id } })), `${a} now points at ${short(id)}`);
  };
  const removeAlias = (a: string) => act(() => call(api.DELETE('/v1/models/aliases/{alias}', { params: { path: { alias: a } } })), `${a} removed`);
  const remove = async () => {
    if (!confirm(`Delete model ${short(id)} and its files?`)) return;
    try {
      await call(api.DELETE('/v1/models/{id}', { params: { path: { id } } }));
      route('/ui/models');
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <main id="main" class="page">
      <h1>
        Model <span class="mono">{short(id)}</span> {m && <span>· {m.architecture}</span>}
      </h1>
      <ErrorBox error={model.error} />
      {m && (
        <>
          <div class="grid-2">
            <Section title="Model">
              <KV
                items={[
                  ['id', <span class="mono">{m.id}</span>],
                  ['test accuracy', <strong>{pct(testOf(m)?.accuracy, 2)}</strong>],
                  ['classes', String(m.numClasses)],
                  ['input', m.inputShape.join('×')],
                  ['trained on backend', m.backend],
                  ['size', bytes(m.sizeBytes)],
                  ['created', when(m.createdAt)],
                  ['training job', <a href={`/ui/jobs/${m.id}`}>{short(m.id)}</a>],
                ]}
              />
            </Section>
            <Section title="Aliases">
              <p>
                {m.aliases.length === 0 && <span class="note">No alias points at this model.</span>}
                {m.aliases.map((a) => (
                  <span class="tag" key={a}>
                    {a}{' '}
                    <RoleButton needs="admin" class="link" aria-label={`Remove alias ${a}`} onClick={() => removeAlias(a)}>
                      ×
                    </RoleButton>
                  </span>
                ))}
              </p>
              <form class="row" onSubmit={pointAlias} aria-label="Point an alias at this model">
                <label for="alias-name">Alias</label>
                  <input id="alias-name" name="alias" value={alias} pattern="[a-z][a-z0-9_\-]{0,62}" title="lower-case letters, digits, - and _, starting with a letter" required onInput={(e) => setAlias(e.currentTarget.value)} list="alias-names" />
                  <datalist id="alias-names">
                    <option value="production" />
                    <option value="staging" />
                  </datalist>
                <RoleButton needs="admin" type="submit">
                  Point {alias || 'alias'} here
                </RoleButton>
              </form>
              {notice && (
                <p class="ok" role="status">
                  {notice}
                </p>
              )}
              <ErrorBox error={error} />
            </Section>
          </div>
          <Lineage model={m} />
          {testOf(m) && <TestMetrics test={testOf(m)!} />}
          <MisclassifiedGrid modelId={m.id} />
          <Section title="Files">
            <ul class="files">
              <li>
                <ApiDownload path={`/v1/models/${id}/model.json`} name="model.json">
                  model.json
                </ApiDownload>{' '}
                (TensorFlow.js layers format)
              </li>
              <li>
                <ApiDownload path={`/v1/models/${id}/weights.bin`} name="weights.bin">
                  weights.bin
                </ApiDownload>
              </li>
              <li>
                <ApiDownload path={`/v1/models/${id}/training-curve.svg`} name="training-curve.svg">
                  training-curve.svg
                </ApiDownload>
              </li>
              {apiPaths.value.has('/v1/models/{id}/model.onnx') && (
                <li>
                  <ApiDownload path={`/v1/models/${id}/model.onnx`} name={`${short(id)}.onnx`}>
                    model.onnx
                  </ApiDownload>
                </li>
              )}
            </ul>
            <ApiImage path={`/v1/models/${id}/training-curve.svg`} alt="Training curve" class="curve-svg" />
            <p>
              <RoleButton needs="admin" class="danger" onClick={remove} disabled={m.aliases.length > 0} title={m.aliases.length ? 'Move or remove its aliases first' : undefined}>
                Delete model
              </RoleButton>
            </p>
          </Section>
          <Section title="Training parameters">
            <Json value={m.params} />
          </Section>
        </>
      )}
    </main>
  );
}

/** dataset → base model(s) → this model, following parentModelId. */
function Lineage({ model }: { model: Model }) {
  const chain = useLoad(async () => {
    const out: Model[] = [model];
    let cur = model;
    while (cur.parentModelId && out.length < 10) {
      try {
        cur = await call(api.GET('/v1/models/{id}', { params: { path: { id: cur.parentModelId } } }));
      } catch {
        break;
      }
      out.unshift(cur);
    }
    return out;
  }, [model.id]);
  const lin = modelLineage(model);
  return (
    <Section title="Lineage">
      <ol class="lineage">
        {(chain.data ?? [model]).map((m, i) => (
          <>
            {i === 0 && (
              <li key={`d-${m.datasetId}`}>
                dataset{' '}
                <a href={`/ui/datasets/${m.datasetId}`} class="mono">
                  {short(m.datasetId)}
                </a>
              </li>
            )}
            {i > 0 && m.datasetId !== chain.data![i - 1]!.datasetId && (
              <li key={`d2-${m.id}`}>
                dataset{' '}
                <a href={`/ui/datasets/${m.datasetId}`} class="mono">
                  {short(m.datasetId)}
                </a>
              </li>
            )}
            <li key={m.id} aria-current={m.id === model.id ? 'true' : undefined}>
              {m.parentModelId ? 'fine-tuned' : 'trained'} model{' '}
              <a href={`/ui/models/${m.id}`} class="mono">
                {short(m.id)}
              </a>{' '}
              ({m.architecture}, {pct(testOf(m)?.accuracy, 2)})
            </li>
          </>
        ))}
      </ol>
      {lin?.frozenLayers && <p class="note">Frozen layers: {lin.frozenLayers.length ? lin.frozenLayers.join(', ') : 'none'}{lin.l2sp ? `; L2-SP λ ${lin.l2sp}` : ''}</p>}
      {lin && <details><summary>Raw lineage</summary><Json value={lin} /></details>}
    </Section>
  );
}
