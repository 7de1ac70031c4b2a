import { z } from 'zod/v4';
import type { ApiRoute } from './api-routes';

/**
 * The OpenAPI 3.1 document of the console's API, made from the same route table and zod schemas that the
 * server enforces, so it describes what is checked rather than what someone remembered to write down.
 * Answers are named by their TypeScript type in `console/api-types.ts`.
 */
export function openApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const openApiPath = route.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...route.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams = route.query ? queryParameters(route.query) : [];
    const status = String(route.status ?? 200);
    paths[openApiPath] ??= {};
    paths[openApiPath][route.method.toLowerCase()] = {
      summary: route.summary,
      parameters: [...pathParams, ...queryParams],
      ...(route.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } }
        : {}),
      responses: {
        [status]: { description: route.returns, content: { 'application/json': { schema: {} } } },
        default: { $ref: '#/components/responses/Error' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Klaviyo dataflows console API',
      version: '1',
      description:
        'The API behind the Imports console and the dataflow CLI. Errors are `{ error: { code, message, url?, field? } }` ' +
        'with the CLI’s words. With DATAFLOW_CONSOLE_TOKEN set, send `Authorization: Bearer <token>`. The API key is ' +
        'write-only: no answer contains it, only its mask (pk_…abcd).',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      responses: {
        Error: {
          description: 'An error in the user’s words, with a stable code.',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: {
                  error: {
                    type: 'object',
                    required: ['code', 'message'],
                    properties: {
                      code: { type: 'string' },
                      message: { type: 'string' },
                      url: { type: 'string' },
                      field: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    security: [{}, { bearer: [] }],
  };
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function queryParameters(schema: z.ZodType): Array<Record<string, unknown>> {
  const json = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}
