import { describeReferenceModel } from '../../test/referenceSuite.ts';

describeReferenceModel('tiny-llama');
