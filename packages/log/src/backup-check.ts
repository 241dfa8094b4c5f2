/**
 * checkBackup(): reads a backup stream end to end without restoring it: the magic and version,
 * every record's crc32, the header, the counts and sha-256 in the trailer against what was read.
 * It proves a copy (a download, a file on another disk) is byte-for-byte the backup the node
 * wrote; the entries' own chains were verified when the node wrote it, and are again by restore.
 * Throws LOG_BACKUP_CORRUPT.
 */
import { equalBytes } from './bytes.js';
import { corrupt, parseCounts, parseHeader, RecordReader, R_AUX, R_CATALOG, R_ENTRY, R_HEADER, R_SECTION, R_TRAILER, type BackupHeader } from './backup-format.js';

export interface BackupCheckReport {
  header: BackupHeader;
  streams: number;
  entries: number;
  aux: number;
  sections: number;
  /** hex sha-256 of the backup before its trailer (the value backupLog reported) */
  sha256: string;
  bytes: number;
}

export async function checkBackup(input: AsyncIterable<Uint8Array>): Promise<BackupCheckReport> {
  const reader = new RecordReader();
  let bytes = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of input) {
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  let header: BackupHeader | undefined;
  let streams = 0;
  let entries = 0;
  let aux = 0;
  let sections = 0;
  let sha256: string | undefined;
  for await (const batch of reader.batches(counted())) {
    for (const { type, payload } of batch) {
      if (header === undefined && type !== R_HEADER) throw corrupt('the first record is not the header');
      switch (type) {
        case R_HEADER:
          if (header !== undefined) throw corrupt('two headers');
          try {
            header = parseHeader(payload);
          } catch (err) {
            throw corrupt(`malformed header (${(err as Error).message})`, err);
          }
          break;
        case R_SECTION:
          sections++;
          break;
        case R_AUX:
          aux++;
          break;
        case R_CATALOG:
          streams++;
          break;
        case R_ENTRY:
          entries++;
          break;
        case R_TRAILER: {
          let parsed;
          try {
            parsed = parseCounts(payload);
          } catch (err) {
            throw corrupt(`malformed trailer (${(err as Error).message})`, err);
          }
          const digest = reader.digest();
          if (!equalBytes(parsed.digest, digest)) throw corrupt('sha-256 mismatch');
          const c = parsed.counts;
          if (c.entries !== entries || c.aux !== aux || c.sections !== sections || c.streams !== streams) {
            throw corrupt(`the trailer counts (${c.streams} streams, ${c.entries} entries, ${c.aux} aux, ${c.sections} sections) differ from the records (${streams}, ${entries}, ${aux}, ${sections})`);
          }
          sha256 = Buffer.from(digest).toString('hex');
          break;
        }
        default:
          throw corrupt(`unknown record type ${type}`);
      }
    }
  }
  if (header === undefined || sha256 === undefined) throw corrupt('truncated (no trailer)');
  return { header, streams, entries, aux, sections, sha256, bytes };
}
