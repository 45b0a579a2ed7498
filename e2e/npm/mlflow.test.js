// End-to-end test of a loopml server through the third-party npm package
// "mlflow" (a small MLflow REST client for Node.js), run with node's built-in
// test runner:
//
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 node --test mlflow.test.js
//
// The package (2.0.7) wraps the MLflow 1.x REST surface. What it lacks or
// gets wrong, and how this file handles it:
//   - No experiments/get-by-name, experiments/search, runs/log-inputs or a
//     run_name on runs/create|update: these go through the package's own
//     request helper `req(method, path, params)`, so they still travel over
//     its transport (GET params in the query string, POST bodies as JSON).
//   - Experiments.setExperimentTag builds a broken URL (no slash before
//     "set-experiment-tag"): the tag is set through `req` instead.
//   - Experiments.list calls experiments/list, which MLflow 2 removed in
//     favour of experiments/search: tested when the server still offers it.
//   - Every POST is echoed to stdout by the package (console.log).
//   - Errors are thrown as Error('Error: {"status":..,"statusText":..,"data":..}').
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const MLflow = require('mlflow');
const { ViewType, RunStatus } = require('mlflow/enum');

const trackingURI = (process.env.MLFLOW_TRACKING_URI || '').replace(/\/+$/, '');
if (!trackingURI) {
  throw new Error('set MLFLOW_TRACKING_URI to the server under test, e.g. http://127.0.0.1:5000');
}

const client = new MLflow({ endpoint: trackingURI });
const { Experiments, Runs, Metrics, Artifacts } = client;

// A per-process suffix keeps names unique when run against a shared server.
const uniq = `${Date.now().toString(36)}-${process.pid}`;

// raw calls an endpoint the package has no method for, through its request
// helper. path has no leading slash: the helper joins it to ".../mlflow/".
function raw(method, path, params) {
  return client.req(method, path, params);
}

// failure awaits a call that must fail and returns the server's answer as
// the package reports it: {status, statusText, data: {error_code, message}}.
async function failure(promise) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'expected the request to fail, it succeeded');
  const at = err.message.indexOf('{');
  assert.ok(at >= 0, `not an HTTP error answer: ${err.message}`);
  const answer = JSON.parse(err.message.slice(at));
  assert.equal(typeof answer.status, 'number', err.message);
  return answer;
}

async function expectError(promise, status, errorCode) {
  const answer = await failure(promise);
  assert.equal(answer.status, status, JSON.stringify(answer));
  assert.ok(answer.data, `no JSON error body: ${JSON.stringify(answer)}`);
  assert.equal(answer.data.error_code, errorCode, JSON.stringify(answer));
  assert.equal(typeof answer.data.message, 'string');
  assert.ok(answer.data.message.length > 0, 'empty error message');
  return answer.data;
}

// quiet runs fn with the package's console.log echo of request bodies muted
// (for requests with very large bodies).
async function quiet(fn) {
  const log = console.log;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
  }
}

function tagMap(tags) {
  return Object.fromEntries((tags || []).map((t) => [t.key, t.value]));
}

function metricMap(metrics) {
  return Object.fromEntries((metrics || []).map((m) => [m.key, m]));
}

const hex32 = /^[0-9a-f]{32}$/;
const unknownRunID = '0123456789abcdef0123456789abcdef';

describe('experiments', () => {
  const name = `npm-exp-${uniq}`;
  let id;

  it('creates an experiment and returns its id', async () => {
    const res = await Experiments.create({ name });
    assert.match(res.experiment_id, /^\d+$/);
    id = res.experiment_id;
  });

  it('rejects a duplicate name with RESOURCE_ALREADY_EXISTS (400)', async () => {
    await expectError(Experiments.create({ name }), 400, 'RESOURCE_ALREADY_EXISTS');
  });

  it('rejects an empty name with INVALID_PARAMETER_VALUE', async () => {
    await expectError(Experiments.create({ name: '' }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('gets the experiment by id', async () => {
    const { experiment } = await Experiments.get({ experiment_id: id });
    assert.equal(experiment.experiment_id, id);
    assert.equal(experiment.name, name);
    assert.equal(experiment.lifecycle_stage, 'active');
    assert.equal(experiment.artifact_location, `mlflow-artifacts:/${id}`);
    assert.equal(typeof experiment.creation_time, 'number');
    assert.ok(experiment.creation_time > 1.6e12, `creation_time ${experiment.creation_time} is not epoch ms`);
    assert.ok(experiment.last_update_time >= experiment.creation_time);
  });

  it('has the Default experiment with id 0', async () => {
    const { experiment } = await Experiments.get({ experiment_id: '0' });
    assert.equal(experiment.name, 'Default');
    assert.equal(experiment.lifecycle_stage, 'active');
  });

  it('answers RESOURCE_DOES_NOT_EXIST (404) for an unknown id', async () => {
    await expectError(Experiments.get({ experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('gets the experiment by name (experiments/get-by-name)', async () => {
    const { experiment } = await raw('get', 'experiments/get-by-name', { experiment_name: name });
    assert.equal(experiment.experiment_id, id);
    await expectError(
      raw('get', 'experiments/get-by-name', { experiment_name: `no-such-${uniq}` }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('sets experiment tags (experiments/set-experiment-tag)', async () => {
    await raw('post', 'experiments/set-experiment-tag', { experiment_id: id, key: 'owner', value: 'npm' });
    await raw('post', 'experiments/set-experiment-tag', { experiment_id: id, key: 'stage', value: 'draft' });
    await raw('post', 'experiments/set-experiment-tag', { experiment_id: id, key: 'stage', value: 'final' });
    const { experiment } = await Experiments.get({ experiment_id: id });
    assert.deepEqual(tagMap(experiment.tags), { owner: 'npm', stage: 'final' });
    await expectError(
      raw('post', 'experiments/set-experiment-tag', { experiment_id: '987654321', key: 'k', value: 'v' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('renames the experiment (experiments/update)', async () => {
    const other = `npm-exp-other-${uniq}`;
    await Experiments.create({ name: other });
    await expectError(Experiments.update({ experiment_id: id, new_name: other }), 400, 'RESOURCE_ALREADY_EXISTS');
    await Experiments.update({ experiment_id: id, new_name: `${name}-renamed` });
    const { experiment } = await Experiments.get({ experiment_id: id });
    assert.equal(experiment.name, `${name}-renamed`);
    await expectError(raw('get', 'experiments/get-by-name', { experiment_name: name }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await Experiments.update({ experiment_id: id, new_name: name });
    await expectError(
      Experiments.update({ experiment_id: '987654321', new_name: `x-${uniq}` }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('deletes and restores the experiment with its runs', async () => {
    const { run } = await Runs.create({ experiment_id: id, user_id: 'npm', start_time: Date.now() });
    await Experiments.delete({ experiment_id: id });

    let { experiment } = await Experiments.get({ experiment_id: id });
    assert.equal(experiment.lifecycle_stage, 'deleted');
    let got = await Runs.get({ run_id: run.info.run_id });
    assert.equal(got.run.info.lifecycle_stage, 'deleted');
    await expectError(Experiments.create({ name }), 400, 'RESOURCE_ALREADY_EXISTS');
    await expectError(
      Runs.create({ experiment_id: id, user_id: 'npm', start_time: Date.now() }),
      400,
      'INVALID_PARAMETER_VALUE',
    );

    await Experiments.restore({ experiment_id: id });
    ({ experiment } = await Experiments.get({ experiment_id: id }));
    assert.equal(experiment.lifecycle_stage, 'active');
    got = await Runs.get({ run_id: run.info.run_id });
    assert.equal(got.run.info.lifecycle_stage, 'active');

    await expectError(Experiments.delete({ experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await expectError(Experiments.restore({ experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('refuses to delete the Default experiment', async () => {
    await expectError(Experiments.delete({ experiment_id: '0' }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('lists experiments (MLflow 1.x experiments/list) when the server offers it', async (t) => {
    let res;
    try {
      res = await Experiments.list({ view_type: ViewType.ALL });
    } catch (e) {
      if (/"status":404/.test(e.message)) {
        t.skip('experiments/list was removed in MLflow 2.0 and the server does not offer it; experiments/search is tested instead');
        return;
      }
      throw e;
    }
    assert.ok(res.experiments.some((e) => e.experiment_id === id));
  });
});

describe('experiments/search', () => {
  const prefix = `npm-search-${uniq}-`;
  const ids = {};

  before(async () => {
    for (const s of ['a', 'b', 'c']) {
      ids[s] = (await Experiments.create({ name: prefix + s })).experiment_id;
    }
    await raw('post', 'experiments/set-experiment-tag', { experiment_id: ids.b, key: 'team', value: 'blue' });
    await Experiments.delete({ experiment_id: ids.c });
  });

  const search = (body) => raw('post', 'experiments/search', body);
  const names = (res) => (res.experiments || []).map((e) => e.name);

  it('filters by name', async () => {
    const res = await search({ filter: `name = '${prefix}a'` });
    assert.deepEqual(names(res), [prefix + 'a']);
  });

  it('filters by tag', async () => {
    const res = await search({ filter: `name LIKE '${prefix}%' AND tags.team = 'blue'` });
    assert.deepEqual(names(res), [prefix + 'b']);
  });

  it('orders by name and pages with max_results and page_token', async () => {
    const first = await search({ filter: `name LIKE '${prefix}%'`, order_by: ['name DESC'], max_results: 1 });
    assert.deepEqual(names(first), [prefix + 'b']);
    assert.ok(first.next_page_token, 'first page has no next_page_token');
    const second = await search({
      filter: `name LIKE '${prefix}%'`,
      order_by: ['name DESC'],
      max_results: 1,
      page_token: first.next_page_token,
    });
    assert.deepEqual(names(second), [prefix + 'a']);
    assert.ok(!second.next_page_token, `last page has a next_page_token: ${second.next_page_token}`);
  });

  it('honours view_type', async () => {
    const filter = `name LIKE '${prefix}%'`;
    const active = await search({ filter, order_by: ['name ASC'] });
    assert.deepEqual(names(active), [prefix + 'a', prefix + 'b']);
    const deleted = await search({ filter, view_type: ViewType.DELETED_ONLY });
    assert.deepEqual(names(deleted), [prefix + 'c']);
    const all = await search({ filter, view_type: ViewType.ALL, order_by: ['name ASC'] });
    assert.deepEqual(names(all), [prefix + 'a', prefix + 'b', prefix + 'c']);
  });

  it('rejects a bad filter with INVALID_PARAMETER_VALUE', async () => {
    await expectError(search({ filter: 'name === oops' }), 400, 'INVALID_PARAMETER_VALUE');
  });
});

describe('runs', () => {
  let expID;
  let runID;
  const start = Date.now() - 60000;

  before(async () => {
    expID = (await Experiments.create({ name: `npm-runs-${uniq}` })).experiment_id;
  });

  it('creates a run', async () => {
    const { run } = await Runs.create({
      experiment_id: expID,
      user_id: 'alice',
      start_time: start,
      tags: [
        { key: 'mlflow.runName', value: 'alpha' },
        { key: 'team', value: 'x' },
      ],
    });
    runID = run.info.run_id;
    assert.match(runID, hex32);
    assert.equal(run.info.run_uuid, runID);
    assert.equal(run.info.experiment_id, expID);
    assert.equal(run.info.user_id, 'alice');
    assert.equal(run.info.status, RunStatus.RUNNING);
    assert.equal(run.info.start_time, start);
    assert.equal(run.info.lifecycle_stage, 'active');
    assert.equal(run.info.run_name, 'alpha');
    assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${expID}/${runID}/artifacts`);
    const tags = tagMap(run.data.tags);
    assert.equal(tags['mlflow.runName'], 'alpha');
    assert.equal(tags.team, 'x');
  });

  it('answers RESOURCE_DOES_NOT_EXIST for an unknown experiment or run', async () => {
    await expectError(
      Runs.create({ experiment_id: '987654321', user_id: 'alice', start_time: start }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    await expectError(Runs.get({ run_id: unknownRunID }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await expectError(
      Runs.logMetric({ run_id: unknownRunID, key: 'm', value: 1, timestamp: Date.now() }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('gets the run by run_id and by run_uuid', async () => {
    const { run } = await Runs.get({ run_id: runID });
    assert.equal(run.info.run_id, runID);
    assert.equal(run.info.run_name, 'alpha');
    const byUUID = await raw('get', 'runs/get', { run_uuid: runID });
    assert.equal(byUUID.run.info.run_id, runID);
  });

  it('logs metrics and returns their full history (runs/log-metric, metrics/get-history)', async () => {
    const t0 = Date.now();
    const points = [
      { value: 0.5, timestamp: t0, step: 0 },
      { value: 1 / 3, timestamp: t0 + 1, step: 1 },
      { value: -2.5e-300, timestamp: t0 + 2, step: 1 },
      { value: 1.7976931348623157e308, timestamp: t0 + 3, step: 2 },
      { value: 42, timestamp: t0 + 4, step: 1 }, // an older step logged last
    ];
    for (const p of points) {
      await Runs.logMetric({ run_id: runID, key: 'loss', ...p });
    }
    await Runs.logMetric({ run_id: runID, key: 'no_step', value: 7, timestamp: t0 });

    const { metrics } = await Metrics.getHistory({ run_id: runID, metric_key: 'loss' });
    const want = [points[0], points[1], points[2], points[4], points[3]].map((p) => ({ key: 'loss', ...p }));
    assert.deepEqual(metrics, want);

    const noStep = await Metrics.getHistory({ run_id: runID, metric_key: 'no_step' });
    assert.deepEqual(noStep.metrics, [{ key: 'no_step', value: 7, timestamp: t0, step: 0 }]);

    const unknown = await Metrics.getHistory({ run_id: runID, metric_key: 'never_logged' });
    assert.deepEqual(unknown.metrics || [], []);
    await expectError(
      Metrics.getHistory({ run_id: unknownRunID, metric_key: 'loss' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );

    const { run } = await Runs.get({ run_id: runID });
    const latest = metricMap(run.data.metrics);
    assert.deepEqual(latest.loss, { key: 'loss', ...points[3] }, 'latest value is the one with the highest step');
    assert.equal(latest.no_step.value, 7);
  });

  it('rejects a bad metric name', async () => {
    await expectError(
      Runs.logMetric({ run_id: runID, key: 'bad!name', value: 1, timestamp: Date.now() }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
  });

  it('logs params, which are write-once (runs/log-parameter)', async () => {
    await Runs.logParameter({ run_id: runID, key: 'lr', value: '0.01' });
    await Runs.logParameter({ run_id: runID, key: 'lr', value: '0.01' });
    await expectError(Runs.logParameter({ run_id: runID, key: 'lr', value: '0.02' }), 400, 'INVALID_PARAMETER_VALUE');
    const { run } = await Runs.get({ run_id: runID });
    assert.deepEqual(tagMap(run.data.params), { lr: '0.01' });
  });

  it('sets, overwrites and deletes tags (runs/set-tag, runs/delete-tag)', async () => {
    await Runs.setTag({ run_id: runID, key: 'note', value: 'first' });
    await Runs.setTag({ run_id: runID, key: 'note', value: 'second' });
    await Runs.setTag({ run_id: runID, key: 'temp', value: 'x' });
    let { run } = await Runs.get({ run_id: runID });
    let tags = tagMap(run.data.tags);
    assert.equal(tags.note, 'second');
    assert.equal(tags.temp, 'x');

    await Runs.deleteTag({ run_id: runID, key: 'temp' });
    ({ run } = await Runs.get({ run_id: runID }));
    tags = tagMap(run.data.tags);
    assert.ok(!('temp' in tags), 'deleted tag is still there');
    assert.equal(tags.note, 'second');
    await expectError(Runs.deleteTag({ run_id: runID, key: 'temp' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('logs a batch of metrics, params and tags (runs/log-batch)', async () => {
    const ts = Date.now();
    await Runs.logBatch({
      run_id: runID,
      metrics: [
        { key: 'acc', value: 0.9, timestamp: ts, step: 0 },
        { key: 'acc', value: 0.95, timestamp: ts, step: 1 },
        { key: 'f1', value: 0.8, timestamp: ts, step: 0 },
      ],
      params: [
        { key: 'model', value: 'tree' },
        { key: 'depth', value: '5' },
      ],
      tags: [{ key: 'batch', value: 'yes' }],
    });
    const { run } = await Runs.get({ run_id: runID });
    assert.equal(metricMap(run.data.metrics).acc.value, 0.95);
    assert.equal(metricMap(run.data.metrics).f1.value, 0.8);
    assert.deepEqual(tagMap(run.data.params), { lr: '0.01', model: 'tree', depth: '5' });
    assert.equal(tagMap(run.data.tags).batch, 'yes');
    const { metrics } = await Metrics.getHistory({ run_id: runID, metric_key: 'acc' });
    assert.deepEqual(
      metrics.map((m) => [m.step, m.value]),
      [
        [0, 0.9],
        [1, 0.95],
      ],
    );
  });

  it('writes a log-batch all or nothing', async () => {
    const ts = Date.now();
    // A bad key next to a good one.
    await expectError(
      Runs.logBatch({
        run_id: runID,
        metrics: [
          { key: 'atomic_a', value: 1, timestamp: ts, step: 0 },
          { key: 'bad!key', value: 2, timestamp: ts, step: 0 },
        ],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    // A changed param next to a new metric and tag.
    await expectError(
      Runs.logBatch({
        run_id: runID,
        metrics: [{ key: 'atomic_b', value: 1, timestamp: ts, step: 0 }],
        params: [{ key: 'model', value: 'forest' }],
        tags: [{ key: 'atomic_tag', value: 'x' }],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    // More than 1000 metrics.
    const many = Array.from({ length: 1001 }, (_, i) => ({ key: 'atomic_c', value: i, timestamp: ts, step: i }));
    await quiet(() => expectError(Runs.logBatch({ run_id: runID, metrics: many }), 400, 'INVALID_PARAMETER_VALUE'));

    for (const key of ['atomic_a', 'atomic_b', 'atomic_c']) {
      const { metrics } = await Metrics.getHistory({ run_id: runID, metric_key: key });
      assert.deepEqual(metrics || [], [], `${key} was written by a rejected batch`);
    }
    const { run } = await Runs.get({ run_id: runID });
    assert.equal(tagMap(run.data.params).model, 'tree');
    assert.ok(!('atomic_tag' in tagMap(run.data.tags)), 'tag written by a rejected batch');

    // Exactly 1000 is fine.
    const thousand = many.slice(0, 1000);
    await quiet(() => Runs.logBatch({ run_id: runID, metrics: thousand }));
    const { metrics } = await Metrics.getHistory({ run_id: runID, metric_key: 'atomic_c' });
    assert.equal(metrics.length, 1000);
    assert.deepEqual(
      metrics.map((m) => m.value),
      thousand.map((m) => m.value),
    );
  });

  it('links dataset inputs (runs/log-inputs)', async () => {
    const datasets = [
      {
        dataset: {
          name: 'iris',
          digest: 'd1g3st',
          source_type: 'local',
          source: '{"uri": "/data/iris.csv"}',
          schema: '{"mlflow_colspec": [{"name": "x", "type": "double"}]}',
          profile: '{"num_rows": 150}',
        },
        tags: [{ key: 'mlflow.data.context', value: 'training' }],
      },
    ];
    await raw('post', 'runs/log-inputs', { run_id: runID, datasets });
    await raw('post', 'runs/log-inputs', { run_id: runID, datasets }); // idempotent
    const { run } = await Runs.get({ run_id: runID });
    const inputs = (run.inputs && run.inputs.dataset_inputs) || [];
    assert.equal(inputs.length, 1, JSON.stringify(run.inputs));
    assert.deepEqual(inputs[0].dataset, datasets[0].dataset);
    assert.deepEqual(inputs[0].tags, datasets[0].tags);
    await expectError(
      raw('post', 'runs/log-inputs', { run_id: unknownRunID, datasets }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('updates status, end time and name (runs/update)', async () => {
    const end = Date.now();
    const { run_info } = await Runs.update({ run_id: runID, status: RunStatus.FINISHED, end_time: end });
    assert.equal(run_info.run_id, runID);
    assert.equal(run_info.status, RunStatus.FINISHED);
    assert.equal(run_info.end_time, end);
    await expectError(Runs.update({ run_id: runID, status: 'BOGUS', end_time: end }), 400, 'INVALID_PARAMETER_VALUE');
    await expectError(
      Runs.update({ run_id: unknownRunID, status: RunStatus.FINISHED, end_time: end }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );

    await raw('post', 'runs/update', { run_id: runID, run_name: 'alpha-2' });
    const { run } = await Runs.get({ run_id: runID });
    assert.equal(run.info.run_name, 'alpha-2');
    assert.equal(tagMap(run.data.tags)['mlflow.runName'], 'alpha-2');
    assert.equal(run.info.status, RunStatus.FINISHED);
    assert.equal(run.info.end_time, end);
  });

  it('deletes and restores the run (runs/delete, runs/restore)', async () => {
    await Runs.delete({ run_id: runID });
    let { run } = await Runs.get({ run_id: runID });
    assert.equal(run.info.lifecycle_stage, 'deleted');
    await expectError(
      Runs.logMetric({ run_id: runID, key: 'after_delete', value: 1, timestamp: Date.now() }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    await Runs.restore({ run_id: runID });
    ({ run } = await Runs.get({ run_id: runID }));
    assert.equal(run.info.lifecycle_stage, 'active');
    await Runs.logMetric({ run_id: runID, key: 'after_restore', value: 1, timestamp: Date.now() });
    await expectError(Runs.delete({ run_id: unknownRunID }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await expectError(Runs.restore({ run_id: unknownRunID }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });
});

describe('runs/search', () => {
  let expID;
  const id = {};

  // Four runs with known start times, so that the default order
  // (start_time DESC) is known too.
  before(async () => {
    expID = (await Experiments.create({ name: `npm-search-runs-${uniq}` })).experiment_id;
    const specs = [
      { name: 'a', model: 'tree', rmse: 0.3, team: 'x', status: RunStatus.FINISHED },
      { name: 'b', model: 'linear', rmse: 0.7, team: 'y' },
      { name: 'c', model: 'tree', rmse: 0.5, team: 'x' },
      { name: 'd', model: 'forest' },
    ];
    for (const [i, s] of specs.entries()) {
      const { run } = await Runs.create({
        experiment_id: expID,
        user_id: 'bob',
        start_time: 1700000000000 + i * 1000,
        tags: [{ key: 'mlflow.runName', value: s.name }, ...(s.team ? [{ key: 'team', value: s.team }] : [])],
      });
      id[s.name] = run.info.run_id;
      await Runs.logBatch({
        run_id: run.info.run_id,
        metrics: s.rmse === undefined ? [] : [{ key: 'rmse', value: s.rmse, timestamp: Date.now(), step: 0 }],
        params: [{ key: 'model', value: s.model }],
      });
      if (s.status) {
        await Runs.update({ run_id: run.info.run_id, status: s.status, end_time: Date.now() });
      }
    }
    await raw('post', 'runs/log-inputs', {
      run_id: id.b,
      datasets: [{ dataset: { name: 'wine', digest: 'w1', source_type: 'local', source: '{}' }, tags: [] }],
    });
  });

  const search = (args) => Runs.search({ experiment_ids: [expID], ...args });
  const names = (res) => (res.runs || []).map((r) => r.info.run_name);

  const cases = [
    { title: 'no filter: start_time DESC', args: {}, want: ['d', 'c', 'b', 'a'] },
    { title: 'metric <', args: { filter: 'metrics.rmse < 0.6' }, want: ['c', 'a'] },
    { title: 'param =', args: { filter: "params.model = 'tree'" }, want: ['c', 'a'] },
    { title: 'AND (any case)', args: { filter: "params.model = 'tree' and metrics.rmse > 0.4" }, want: ['c'] },
    { title: 'tag =', args: { filter: "tags.team = 'x'" }, want: ['c', 'a'] },
    { title: 'tag !=', args: { filter: "tags.team != 'x'" }, want: ['b'] },
    { title: 'run_name', args: { filter: "attributes.run_name = 'b'" }, want: ['b'] },
    { title: 'status', args: { filter: "attributes.status = 'FINISHED'" }, want: ['a'] },
    { title: 'LIKE', args: { filter: "params.model LIKE 'fo%'" }, want: ['d'] },
    { title: 'ILIKE', args: { filter: "params.model ILIKE 'TR%'" }, want: ['c', 'a'] },
    { title: 'dataset name', args: { filter: "dataset.name = 'wine'" }, want: ['b'] },
    { title: 'start_time', args: { filter: 'attributes.start_time >= 1700000002000' }, want: ['d', 'c'] },
    { title: 'order by metric DESC', args: { filter: 'metrics.rmse >= 0.3', order_by: ['metrics.rmse DESC'] }, want: ['b', 'c', 'a'] },
    { title: 'missing metric sorts last (ASC)', args: { order_by: ['metrics.rmse ASC'] }, want: ['a', 'c', 'b', 'd'] },
    { title: 'missing metric sorts last (DESC)', args: { order_by: ['metrics.rmse DESC'] }, want: ['b', 'c', 'a', 'd'] },
    { title: 'two order_by keys', args: { order_by: ['params.model ASC', 'metrics.rmse DESC'] }, want: ['d', 'b', 'c', 'a'] },
    { title: 'order by run_name', args: { order_by: ['attributes.run_name ASC'] }, want: ['a', 'b', 'c', 'd'] },
  ];
  for (const c of cases) {
    it(c.title, async () => {
      assert.deepEqual(names(await search(c.args)), c.want);
    });
  }

  it('filters by run_id IN (...)', async () => {
    const res = await search({ filter: `attributes.run_id IN ('${id.a}', '${id.d}')` });
    assert.deepEqual(names(res), ['d', 'a']);
  });

  it('returns full runs with data', async () => {
    const res = await search({ filter: "attributes.run_name = 'a'" });
    const [run] = res.runs;
    assert.equal(run.info.run_id, id.a);
    assert.equal(metricMap(run.data.metrics).rmse.value, 0.3);
    assert.deepEqual(tagMap(run.data.params), { model: 'tree' });
    assert.equal(tagMap(run.data.tags).team, 'x');
  });

  it('pages with max_results and page_token', async () => {
    const order_by = ['attributes.start_time ASC'];
    const first = await search({ order_by, max_results: 3 });
    assert.deepEqual(names(first), ['a', 'b', 'c']);
    assert.ok(first.next_page_token, 'first page has no next_page_token');
    const second = await search({ order_by, max_results: 3, page_token: first.next_page_token });
    assert.deepEqual(names(second), ['d']);
    assert.ok(!second.next_page_token, `last page has a next_page_token: ${second.next_page_token}`);
  });

  it('honours run_view_type', async () => {
    await Runs.delete({ run_id: id.d });
    assert.deepEqual(names(await search({ run_view_type: ViewType.ACTIVE_ONLY })), ['c', 'b', 'a']);
    assert.deepEqual(names(await search({ run_view_type: ViewType.DELETED_ONLY })), ['d']);
    assert.deepEqual(names(await search({ run_view_type: ViewType.ALL })), ['d', 'c', 'b', 'a']);
    await Runs.restore({ run_id: id.d });
    assert.deepEqual(names(await search({})), ['d', 'c', 'b', 'a']);
  });

  it('searches several experiments at once', async () => {
    const other = (await Experiments.create({ name: `npm-search-runs-other-${uniq}` })).experiment_id;
    await Runs.create({
      experiment_id: other,
      user_id: 'bob',
      start_time: 1600000000000,
      tags: [{ key: 'mlflow.runName', value: 'e' }],
    });
    const res = await Runs.search({ experiment_ids: [expID, other] });
    assert.deepEqual(names(res), ['d', 'c', 'b', 'a', 'e']);
  });

  it('rejects a bad filter or order_by with INVALID_PARAMETER_VALUE', async () => {
    await expectError(search({ filter: 'metrics.rmse <<< 1' }), 400, 'INVALID_PARAMETER_VALUE');
    await expectError(search({ filter: 'nonsense.rmse < 1' }), 400, 'INVALID_PARAMETER_VALUE');
    await expectError(search({ order_by: ['metrics.rmse SIDEWAYS'] }), 400, 'INVALID_PARAMETER_VALUE');
  });
});

describe('artifacts/list', () => {
  let run;

  before(async () => {
    const expID = (await Experiments.create({ name: `npm-artifacts-${uniq}` })).experiment_id;
    ({ run } = await Runs.create({ experiment_id: expID, user_id: 'carol', start_time: Date.now() }));
  });

  it('lists nothing for a new run', async () => {
    const res = await Artifacts.list({ run_id: run.info.run_id, path: '' });
    assert.equal(res.root_uri, run.info.artifact_uri);
    assert.deepEqual(res.files || [], []);
  });

  it('lists files uploaded through the artifact proxy, with run-relative paths', async () => {
    const prefix = 'mlflow-artifacts:/';
    assert.ok(run.info.artifact_uri.startsWith(prefix), run.info.artifact_uri);
    const base = `${trackingURI}/api/2.0/mlflow-artifacts/artifacts/${run.info.artifact_uri.slice(prefix.length)}`;
    const uploads = { 'model/weights.bin': 'w'.repeat(1234), 'notes.txt': 'hello loopml\n' };
    for (const [path, body] of Object.entries(uploads)) {
      const res = await fetch(`${base}/${path}`, { method: 'PUT', body });
      assert.equal(res.status, 200, `PUT ${path}: ${res.status} ${await res.text()}`);
    }

    const root = await Artifacts.list({ run_id: run.info.run_id, path: '' });
    assert.deepEqual(
      root.files.map((f) => [f.path, Boolean(f.is_dir), f.file_size]),
      [
        ['model', true, undefined],
        ['notes.txt', false, 13],
      ],
    );
    // MLflow sets FileInfo.is_dir explicitly (a proto2 optional field), so a
    // file's entry carries "is_dir": false rather than omitting it.
    assert.equal(root.files[1].is_dir, false, `file entry without "is_dir": false: ${JSON.stringify(root.files[1])}`);
    const dir = await Artifacts.list({ run_id: run.info.run_id, path: 'model' });
    assert.deepEqual(dir.files, [{ path: 'model/weights.bin', is_dir: false, file_size: 1234 }]);
    const missing = await Artifacts.list({ run_id: run.info.run_id, path: 'nowhere' });
    assert.deepEqual(missing.files || [], []);

    const download = await fetch(`${base}/notes.txt`);
    assert.equal(download.status, 200);
    assert.equal(await download.text(), uploads['notes.txt']);
  });

  it('answers RESOURCE_DOES_NOT_EXIST for an unknown run', async () => {
    await expectError(Artifacts.list({ run_id: unknownRunID, path: '' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });
});
