import { describeReferenceModel } from '../../test/referenceSuite.ts';

describeReferenceModel('pydoc-chat-6m');
