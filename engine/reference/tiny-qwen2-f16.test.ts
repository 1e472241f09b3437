import { describeReferenceModel } from '../../test/referenceSuite.ts';

describeReferenceModel('tiny-qwen2-f16', { separateRopeKv: true });
