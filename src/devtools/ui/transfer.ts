/**
 * Export and import: the listed events (all, or what the filters let
 * through) as the NDJSON store.exportLog writes; an NDJSON file into a fresh
 * scratch store that the panel then shows; and back to the live store.
 */
import { errorText } from '../errors.ts';
import { fileStamp, formatCount } from '../format.ts';
import { exportPlan } from '../model/filter.ts';
import type { NoticeKind, ScratchInfo } from '../model/state.ts';
import type { DevtoolsSource } from '../types.ts';
import type { PanelCore } from './context.ts';

export interface DownloadFile {
  blob: Blob;
  filename: string;
  /** Events in the file. */
  lines: number;
}

/** A download through a temporary link. */
export function defaultDownload({ blob, filename }: DownloadFile): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface TransferHost {
  readonly ctx: PanelCore;
  /** The source the panel was mounted on. */
  readonly rootSource: DevtoolsSource;
  /** The scratch store's source the panel shows, if any. */
  scratch(): DevtoolsSource | null;
  /** Shows a source: a scratch store's (with what it was imported from) or the root one (null). */
  show(source: DevtoolsSource, scratch: ScratchInfo | null): void;
  download(file: DownloadFile): void;
}

function notify(ctx: PanelCore, message: string, kind: NoticeKind): void {
  ctx.dispatch({ type: 'noticed', notice: { message, kind } });
}

export async function exportLog({ ctx, download }: TransferHost): Promise<void> {
  const source = ctx.source();
  const info = ctx.state().info ?? (await source.info());
  const plan = exportPlan(ctx.state());
  notify(ctx, 'Exporting…', 'progress');
  const parts: string[] = [];
  try {
    await source.exportLog(plan.filter, (lines) => {
      for (const line of lines) {
        if (plan.ids && !plan.ids.has((JSON.parse(line) as { id: string }).id)) continue;
        parts.push(`${line}\n`);
      }
    });
  } catch (error) {
    notify(ctx, `Export failed: ${errorText(error)}`, 'error');
    return;
  }
  const filename = `${info.name}${plan.filtered ? '-filtered' : ''}-${fileStamp()}.ndjson`;
  download({ blob: new Blob(parts, { type: 'application/x-ndjson' }), filename, lines: parts.length });
  notify(ctx, `Exported ${formatCount(parts.length)} event${parts.length === 1 ? '' : 's'} to ${filename}.`, 'info');
}

export async function importFile(host: TransferHost, file: File): Promise<void> {
  const { ctx } = host;
  notify(ctx, `Importing ${file.name}…`, 'progress');
  let text: string;
  try {
    text = await file.text();
  } catch (error) {
    notify(ctx, `Could not read ${file.name}: ${errorText(error)}`, 'error');
    return;
  }
  try {
    const { source, result, name } = await host.rootSource.importLog(text);
    if (ctx.unmounted()) {
      await source.dispose();
      return;
    }
    const previous = host.scratch();
    host.show(source, { name, file: file.name });
    if (previous) await previous.dispose();
    const n = result.confirmed + result.pending;
    notify(
      ctx,
      `Imported ${formatCount(n)} event${n === 1 ? '' : 's'} (${formatCount(result.confirmed)} confirmed, ${formatCount(result.pending)} pending) from ${file.name} into the scratch store ${name}. The live store is untouched.`,
      'info',
    );
  } catch (error) {
    notify(ctx, `Import failed: ${errorText(error)}`, 'error');
  }
}

export async function backToLive(host: TransferHost): Promise<void> {
  const scratch = host.scratch();
  const info = host.ctx.state().scratch;
  if (!scratch) return;
  host.show(host.rootSource, null);
  notify(host.ctx, `Closed the scratch store ${info?.name ?? ''}.`, 'info');
  await scratch.dispose();
}
