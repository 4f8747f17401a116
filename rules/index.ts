import { aggregateRule } from './aggregate';
import { buildTargetRule } from './build-target';
import type { Rule } from './rule';
import { sampleSliceRule, sampleRule } from './sample';
import { trialRule } from './trial';

export const RULES: Record<string, Rule<any>> = {
  [buildTargetRule.name]: buildTargetRule,
  [sampleRule.name]: sampleRule,
  [sampleSliceRule.name]: sampleSliceRule,
  [aggregateRule.name]: aggregateRule,
  [trialRule.name]: trialRule,
};
