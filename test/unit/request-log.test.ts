import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createRequestFinisher } from '../../src/server/http/request-log.ts';
import type { RequestInfo } from '../../src/server/http/request-context.ts';
import { noMetrics } from '../../src/server/metrics.ts';
import { recordingLogger } from '../server/recording-logger.ts';

const request = (url: string) => ({ method: 'GET', url }) as IncomingMessage;

/** What a request to /metrics without prom-client ends as (ops.ts). */
const metricsUnavailable = (id: string): RequestInfo => ({
  id,
  start: performance.now(),
  action: 'metrics',
  status: 503,
  code: 'UNAVAILABLE',
  reason: 'metrics-unavailable',
  message: 'The /metrics endpoint needs the "prom-client" package: npm install prom-client',
});

describe('request log lines', () => {
  it('a refusal that comes from the set-up (no prom-client behind /metrics) is a warning once, not an error per scrape', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: false });
    for (let scrape = 1; scrape <= 5; scrape++) finish(request('/metrics'), metricsUnavailable(`scrape-${scrape}`));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.message).toMatch(/logged once/);
    expect(lines[0]!.fields).toMatchObject({ requestId: 'scrape-1', status: 503, reason: 'metrics-unavailable', path: '/metrics' });
    expect(lines[0]!.fields?.message).toContain('npm install prom-client');
  });

  it('a push refused while its log is moved is a warning each time (clients retry it), a store failure an error', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: false });
    const refused = (id: string, reason: string): RequestInfo => ({
      id,
      start: performance.now(),
      action: 'push',
      status: 503,
      code: 'UNAVAILABLE',
      reason,
    });
    finish(request('/v1/logs/shop/push'), refused('p1', 'log-moving'));
    finish(request('/v1/logs/shop/push'), refused('p2', 'log-moving'));
    finish(request('/v1/logs/shop/push'), refused('p3', 'store-unreachable'));
    expect(lines.map((l) => [l.level, l.message, l.fields?.reason])).toEqual([
      ['warn', 'request refused during a log move', 'log-moving'],
      ['warn', 'request refused during a log move', 'log-moving'],
      ['error', 'request failed', 'store-unreachable'],
    ]);
  });

  it('each set-up reason gets its own first warning (no ws behind the live channel)', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: false });
    finish(request('/metrics'), metricsUnavailable('m1'));
    const live: RequestInfo = {
      id: 'l1',
      start: performance.now(),
      action: 'live',
      status: 503,
      code: 'UNAVAILABLE',
      reason: 'live-unavailable',
    };
    finish(request('/v1/logs/orders/live'), live);
    finish(request('/v1/logs/orders/live'), { ...live, id: 'l2' });
    expect(lines.map((l) => [l.level, l.fields?.reason])).toEqual([
      ['warn', 'metrics-unavailable'],
      ['warn', 'live-unavailable'],
    ]);
  });

  it('"still loading" just after the start does not hide a different refusal that follows it', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: false });
    finish(request('/metrics'), { ...metricsUnavailable('early'), message: 'metrics are still loading' });
    // prom-client is installed but fails to load (a dependency of its own is missing).
    const broken = { ...metricsUnavailable('late'), message: "Cannot find module 'tdigest'" };
    finish(request('/metrics'), broken);
    finish(request('/metrics'), { ...broken, id: 'later' });
    expect(lines.map((l) => [l.level, l.fields?.requestId, l.fields?.message])).toEqual([
      ['warn', 'early', 'metrics are still loading'],
      ['warn', 'late', "Cannot find module 'tdigest'"],
    ]);
  });

  it('with the access log on, the set-up refusals after the first are still listed, as refusals', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: true });
    finish(request('/metrics'), metricsUnavailable('a'));
    finish(request('/metrics'), metricsUnavailable('b'));
    expect(lines.map((l) => [l.level, l.message, l.fields?.requestId])).toEqual([
      ['warn', expect.stringMatching(/logged once/), 'a'],
      ['info', 'request refused', 'b'],
    ]);
  });

  it('a 503 the database caused is an error every time: each one may need the operator', () => {
    const { logger, lines } = recordingLogger();
    const finish = createRequestFinisher({ logger, metrics: noMetrics, accessLog: false });
    const timeout: RequestInfo = {
      id: 'p1',
      start: performance.now(),
      action: 'push',
      status: 503,
      code: 'UNAVAILABLE',
      reason: 'store-timeout',
      message: 'The push waited too long for the database',
    };
    finish(request('/v1/logs/orders/push'), timeout);
    finish(request('/v1/logs/orders/push'), { ...timeout, id: 'p2' });
    expect(lines.map((l) => [l.level, l.message, l.fields?.requestId])).toEqual([
      ['error', 'request failed', 'p1'],
      ['error', 'request failed', 'p2'],
    ]);
  });
});
