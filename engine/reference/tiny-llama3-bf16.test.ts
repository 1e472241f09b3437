import { describeReferenceModel } from '../../test/referenceSuite.ts';

describeReferenceModel('tiny-llama3-bf16');
