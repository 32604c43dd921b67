import { describe } from 'vitest';
import { hybridBehaviour, hybridEngines } from './shared/hybrid.behaviour';

// One HYBRID pair of throwaway servers per engine, started in its describe's beforeAll and
// destroyed in its afterAll, so at most one pair runs at a time in this file.
describe.each(hybridEngines.map((e) => [e.label, e] as const))('HYBRID %s: primary, secondary, failover', (_label, engine) => hybridBehaviour(engine));
