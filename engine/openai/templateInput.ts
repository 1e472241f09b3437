import type { TemplateMessage, TemplateTool } from '../tokenizer.ts';
import type { ChatCompletionContentPartText, ChatCompletionCreateParams, ChatCompletionMessageParam } from './types.ts';

/*
 * A request's messages and tools as chat templates take them: Hugging Face's shapes, as vLLM hands an OpenAI request
 * to `apply_chat_template`. Tool-call arguments arrive as JSON text and go to the template as objects (templates
 * print them with `tojson`); a tool's result names the function of the call it answers, as Hugging Face's examples
 * write it (some templates require it).
 */

function text(content: string | ChatCompletionContentPartText[] | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

/** The messages for the template: `developer` as `system`, text parts joined, call arguments parsed. */
export function templateMessages(messages: ChatCompletionMessageParam[]): TemplateMessage[] {
  const functionOfCall = new Map<string, string>();
  return messages.map((message): TemplateMessage => {
    if (message.role === 'tool') {
      const name = functionOfCall.get(message.tool_call_id);
      return { role: 'tool', content: text(message.content), tool_call_id: message.tool_call_id, ...(name !== undefined && { name }) };
    }
    if (message.role === 'assistant' && message.tool_calls?.length) {
      for (const call of message.tool_calls) functionOfCall.set(call.id, call.function.name);
      const toolCalls = message.tool_calls.map((call) => ({
        id: call.id,
        type: 'function' as const,
        function: { name: call.function.name, arguments: JSON.parse(call.function.arguments || '{}') as Record<string, unknown> },
      }));
      return { role: 'assistant', content: text(message.content), tool_calls: toolCalls };
    }
    return { role: message.role === 'developer' ? 'system' : message.role, content: text(message.content) };
  });
}

/** The tools the template shows the model: none with `tool_choice: 'none'` (the model must not call). */
export function templateTools(params: ChatCompletionCreateParams): TemplateTool[] | undefined {
  if (!params.tools || params.tools.length === 0 || params.tool_choice === 'none') return undefined;
  return params.tools;
}
