import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { serve, ShardError, type InteractiveContext, type ShardHandlers } from '../../src/index.js';
import { LogSeverity } from '@homelab-mcp/proto/ts/homelab/mcp/v1/tool.js';
import { ElicitationAction, Role, type ClientAnswer, type ClientQuestion, type Content } from '@homelab-mcp/proto/ts/homelab/mcp/v1/surface.js';
import { ConformanceServiceService } from '@homelab-mcp/proto/ts/homelab/testing/v1/conformance.js';

type Listen = Parameters<typeof serve>[0]['listen'];

/** A 1x1 red PNG. */
const RED_PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

/** A WAV file of 8 silent 8-bit mono samples at 8 kHz. */
function silentWav(): Buffer {
  const samples = 8;
  const b = Buffer.alloc(44 + samples, 0x80);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(8000, 28);
  b.writeUInt16LE(1, 32);
  b.writeUInt16LE(8, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples, 40);
  return b;
}

const text = (t: string): Content => ({ text: t });
const image = (): Content => ({ image: { data: RED_PIXEL, mimeType: 'image/png' } });
const STEP_MS = 50;

const ACTIONS: Record<number, string> = { [ElicitationAction.ELICITATION_ACTION_ACCEPT]: 'accept', [ElicitationAction.ELICITATION_ACTION_DECLINE]: 'decline', [ElicitationAction.ELICITATION_ACTION_CANCEL]: 'cancel' };

/** Asks the client one question and renders what came back: the answer, or why there was none. */
async function* ask(question: ClientQuestion, ctx: InteractiveContext<{ answer?: ClientAnswer | undefined }>, render: (a: ClientAnswer) => string): AsyncGenerator<{ question?: ClientQuestion; content: Content[] }> {
  yield { question, content: [] };
  const answer = (await ctx.next())?.answer;
  if (!answer || answer.id !== question.id) throw new ShardError('ABORTED', 'the client\'s answer did not come back');
  if (answer.unsupported !== undefined) throw new ShardError('FAILED_PRECONDITION', `cannot ask: ${answer.unsupported}`, { hint: 'Use a client that supports elicitation and sampling.' });
  yield { content: [text(render(answer))] };
}

const elicited = (a: ClientAnswer) => `action=${ACTIONS[a.elicitation?.action ?? 0] ?? 'unknown'}, content=${JSON.stringify(a.elicitation?.content ?? {})}`;

const SEP1034_FORM = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Your name', default: 'John Doe' },
    age: { type: 'integer', description: 'Your age', default: 30 },
    score: { type: 'number', description: 'Your score', default: 95.5 },
    status: { type: 'string', description: 'Your status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', description: 'Verified', default: true },
  },
};

const SEP1330_FORM = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', description: 'Pick one', enum: ['option1', 'option2', 'option3'] },
    titledSingle: { type: 'string', description: 'Pick one', oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
    legacyEnum: { type: 'string', description: 'Pick one', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array', description: 'Pick some', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
    titledMulti: { type: 'array', description: 'Pick some', items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
  },
};

/**
 * The MCP conformance suite's fixtures on shard-kit's serve(), declared in
 * homelab/testing/v1/conformance.proto with the ordinary contract options.
 */
export async function startConformanceShard(options: { listen: Listen; logger: Logger }): Promise<{ port: number; close(): Promise<void> }> {
  const handlers: ShardHandlers<typeof ConformanceServiceService> = {
    testSimpleText: async () => ({ content: [text('This is a simple text response for testing.')] }),
    testImageContent: async () => ({ content: [image()] }),
    testAudioContent: async () => ({ content: [{ audio: { data: silentWav(), mimeType: 'audio/wav' } }] }),
    testEmbeddedResource: async () => ({ content: [{ resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }),
    testMultipleContentTypes: async () => ({
      content: [text('Multiple content types test:'), image(), { resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } }],
    }),
    testToolWithLogging: async function* (_req, ctx) {
      const lines = ['Tool execution started', 'Tool processing data', 'Tool execution completed'];
      for (const [i, message] of lines.entries()) {
        if (i > 0) await sleep(STEP_MS, undefined, { signal: ctx.signal });
        yield { update: { log: { level: LogSeverity.LOG_SEVERITY_INFO, message } }, content: [] };
      }
      yield { content: [text('Tool with logging executed successfully')] };
    },
    testToolWithProgress: async function* (_req, ctx) {
      for (const done of [0, 50, 100]) {
        if (done > 0) await sleep(STEP_MS, undefined, { signal: ctx.signal });
        yield { update: { progress: { done, total: 100, message: `${done}%` } }, content: [] };
      }
      yield { content: [text('Tool with progress executed successfully')] };
    },
    testSampling: (req, ctx) =>
      ask({ id: 'sample', sampling: { messages: [{ role: Role.ROLE_USER, content: text(req.prompt) }], maxTokens: 100, systemPrompt: '' } }, ctx, (a) => `LLM response: ${a.sampling?.content?.text ?? ''}`),
    testElicitation: (req, ctx) =>
      ask({ id: 'elicit', elicitation: { message: req.message, requestedSchema: { type: 'object', properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } }, required: ['username', 'email'] } } }, ctx, (a) => `User response: ${elicited(a)}`),
    testElicitationSep1034Defaults: (_req, ctx) => ask({ id: 'defaults', elicitation: { message: 'Please review and update the form fields with defaults', requestedSchema: SEP1034_FORM } }, ctx, (a) => `Elicitation completed: ${elicited(a)}`),
    testElicitationSep1330Enums: (_req, ctx) => ask({ id: 'enums', elicitation: { message: 'Please select options from the enum fields', requestedSchema: SEP1330_FORM } }, ctx, (a) => `Elicitation completed: ${elicited(a)}`),
    testErrorHandling: async () => {
      throw new ShardError('INTERNAL', 'This tool intentionally returns an error for testing');
    },
    readStaticText: async () => ({ contents: [{ uri: '', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }),
    readStaticBinary: async () => ({ contents: [{ uri: '', mimeType: 'image/png', blob: RED_PIXEL }] }),
    readTemplateData: async (req) => ({ contents: [{ uri: '', mimeType: 'application/json', text: JSON.stringify({ id: req.id, templateTest: true, data: `Data for ID: ${req.id}` }) }] }),
    readWatchedResource: async () => ({ contents: [{ uri: '', mimeType: 'text/plain', text: 'A resource that can be watched.' }] }),
    watchWatchedResource: async function* (_req, ctx) {
      // Nothing changes it: the stream stays open until the last subscriber leaves.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      yield* [];
    },
    testSimplePrompt: async () => ({ description: '', messages: [{ role: Role.ROLE_USER, content: text('This is a simple prompt for testing.') }] }),
    testPromptWithArguments: async (req) => ({ description: '', messages: [{ role: Role.ROLE_USER, content: text(`Prompt with arguments: arg1='${req.arg1}', arg2='${req.arg2}'`) }] }),
    testPromptWithEmbeddedResource: async (req) => ({
      description: '',
      messages: [
        { role: Role.ROLE_USER, content: { resource: { uri: req.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: Role.ROLE_USER, content: text('Please process the embedded resource above.') },
      ],
    }),
    testPromptWithImage: async () => ({ description: '', messages: [{ role: Role.ROLE_USER, content: image() }, { role: Role.ROLE_USER, content: text('Please analyze the image above.') }] }),
    completeArgument: async (req) => {
      const values = ['paris', 'park', 'party', 'test', 'testing'].filter((v) => v.startsWith(req.value.toLowerCase()));
      return { values, total: values.length, hasMore: false };
    },
  };
  const shard = await serve({ name: 'conformance', serviceName: 'homelab.testing.v1.ConformanceService', service: ConformanceServiceService, handlers, listen: options.listen, logger: options.logger });
  return { port: shard.port, close: () => shard.close(0) };
}
