/** The commands on a dataflow's settings and contents: create, tables, show, edit, list, entities. */
import { Command, Option } from 'commander';
import type { Dataflow } from '../../control-plane/dataflows';
import type { DataflowListRow } from '../dataflow-api';
import { dataflowSummary } from '../dataflow-summary';
import {
  groupRows,
  LIST_GROUP_KEYS,
  renderDataflow,
  renderDataflowList,
  renderEntities,
  renderTableFields,
  renderTables,
} from '../cli-output';
import {
  answerCommand,
  attributionWindowOption,
  conversionMetricOption,
  deletionSweepOption,
  jsonOption,
  list,
  maskedKey,
  print,
  readApiKey,
  withApi,
} from './shared';

/** create, tables, show, edit and list, in the order `--help` lists them. */
export function registerDataflowCommands(program: Command): void {
  const json = jsonOption();

  const create = program
    .command('create <name>')
    .description('validate the key, discover the tables it can read, and save a dataflow')
    .option('--display-name <text>', 'display name (default: the name)')
    .option('--description <text>', 'description', '')
    .option('--api-key-stdin', 'read the Klaviyo private API key from stdin (else KLAVIYO_API_KEY)')
    .option('--base-url <url>', 'Klaviyo API base URL (default https://a.klaviyo.com)')
    .option('--tables <names>', 'comma-separated tables to import (default: all the key can read)', list);
  withSettingsOptions(create)
    .addOption(json)
    .action(async (name: string, opts) => {
      const apiKey = (await readApiKey(opts.apiKeyStdin, true)) as string;
      const created = await withApi((api) =>
        api.create({
          name,
          ...settingsOf(opts, apiKey),
        }),
      );
      print(opts, dataflowSummary(created), () =>
        [
          `Created dataflow ${created.name} (${created.tablesCount} tables selected, key ${maskedKey(created)}).`,
          `Next: dataflow tables ${created.name}   |   dataflow run ${created.name} --wait`,
        ].join('\n'),
      );
    });

  answerCommand(
    program
      .command('tables <name>')
      .description(
        'the tables of a dataflow: purpose, name, type, selected (or the scopes it needs), fields selected/total',
      )
      .option('--fields', 'list the fields of each table, the selected ones marked'),
    (api, name) => api.tables(name),
    (rows, _name, opts) => (opts.fields ? renderTableFields(rows) : renderTables(rows)),
  );

  program
    .command('show <name>')
    .description('one dataflow: display name, description, status, key (masked), schedule, dates, last error')
    .addOption(json)
    .action(async (name: string, opts) => {
      const row: Dataflow & Partial<DataflowListRow> = await withApi(async (api) => {
        const dataflow = await api.get(name);
        return (await api.list()).find((r) => r.id === dataflow.id) ?? dataflow;
      });
      print(
        opts,
        {
          ...dataflowSummary(row),
          schedule: row.scheduleSpec ?? null,
          nextRun: row.nextRun ?? null,
        },
        () => renderDataflow(row, maskedKey(row)),
      );
    });

  const edit = program
    .command('edit <name>')
    .description('change the key, display name, description, base URL, tables or fields')
    .option('--display-name <text>')
    .option('--description <text>')
    .option('--api-key-stdin', 'read a new API key from stdin')
    .option('--base-url <url>')
    .option('--tables <names>', 'comma-separated tables to import', list);
  withSettingsOptions(edit)
    .addOption(json)
    .action(async (name: string, opts) => {
      const apiKey = opts.apiKeyStdin ? await readApiKey(true, true) : undefined;
      const updated = await withApi((api) =>
        api.edit(name, {
          ...settingsOf(opts, apiKey),
        }),
      );
      print(opts, { ...dataflowSummary(updated), changed: updated.changed }, () =>
        updated.changed
          ? `Updated dataflow ${updated.name}.`
          : `Nothing to change: ${updated.name} already has these settings.`,
      );
    });

  program
    .command('list')
    .description('every dataflow with its status, tables, dates and next scheduled run')
    .addOption(new Option('--group-by <key>', 'group rows').choices(LIST_GROUP_KEYS))
    .addOption(json)
    .action(async (opts) => {
      const rows = await withApi((api) => api.list());
      const groups = groupRows(rows, opts.groupBy);
      print(
        opts,
        opts.groupBy
          ? Object.fromEntries(
              [...groups].map(([k, v]) => [k, v.map((r) => ({ ...dataflowSummary(r), nextRun: r.nextRun }))]),
            )
          : rows.map((r) => ({ ...dataflowSummary(r), schedule: r.scheduleSpec, nextRun: r.nextRun })),
        () => renderDataflowList(rows, opts.groupBy),
      );
    });
}

/** entities: the tables a dataflow created (listed after history in `--help`). */
export function registerEntitiesCommand(program: Command): void {
  answerCommand(
    program
      .command('entities <name>')
      .description('the tables a dataflow created, their rows and the version they show'),
    (api, name) => api.entities(name),
    (rows, name) => renderEntities(name, rows),
  );
}

/** The options `create` and `edit` share after `--tables`: fields, deletion sweep and report settings. */
function withSettingsOptions(command: Command): Command {
  return command
    .option('--exclude-fields <table.field,...>', 'fields to leave out', list)
    .option('--fields <table.field,...>', 'exactly these fields for each table named', list)
    .option(
      '--include-fields <table.field,...>',
      'add fields left out by default (e.g. profiles.predictive_analytics: a slower rate tier)',
      list,
    )
    .addOption(deletionSweepOption())
    .addOption(conversionMetricOption())
    .addOption(attributionWindowOption());
}

interface SettingsOptions {
  displayName?: string;
  description?: string;
  baseUrl?: string;
  tables?: string[];
  excludeFields?: string[];
  fields?: string[];
  includeFields?: string[];
  deletionSweep?: string;
  conversionMetric?: string;
  attributionWindow?: number;
}

/** What `create` and `edit` pass to the API from their options (the name aside). */
function settingsOf<Key extends string | undefined>(opts: SettingsOptions, apiKey: Key) {
  return {
    displayName: opts.displayName,
    description: opts.description,
    apiKey,
    baseUrl: opts.baseUrl,
    tables: opts.tables,
    excludeFields: opts.excludeFields,
    fields: opts.fields,
    includeFields: opts.includeFields,
    deletionSweep: opts.deletionSweep,
    conversionMetric: opts.conversionMetric,
    attributionWindowDays: opts.attributionWindow,
  };
}
