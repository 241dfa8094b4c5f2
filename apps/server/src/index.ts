/**
 * @profilesync/server: the node's HTTP API (Fastify) and WebSocket mount point.
 *   const config = loadConfig({ file: 'profilesync.toml' });
 *   const server = await startServer(config);
 *   console.log(server.url); ... await server.close();
 */
export { startServer, type StartServerOptions, type RunningServer, type CacheRegistryLike } from './server.js';
export { loadConfig, defaultConfig, isLoopbackHost, CONFIG_KEYS, DEFAULT_PORT, type ServerConfig, type PeerConfig, type LoadConfigOptions, type ConfigKey, type LogLevel, type MetricsAuth } from './config.js';
export { openNode, isNodeDir, nodePaths, unlockNodeKeyring, type NodeHandle, type NodePaths, type OpenNodeOptions, type PassphraseProvider } from './node.js';
export { ensureAdminToken, readAdminToken, writeAdminTokenFile, writeSecretFile, ADMIN_TOKEN_PURPOSE, type AdminTokenResult, type SecretSealer } from './auth/admin-token.js';
export { TokenStore, splitToken, bearerToken, type Principal, type TokenInfo, type TokenRecord } from './auth/tokens.js';
export { ROLES, roleAllows, compileGlob, grantAllows, type Role, type Permission } from './auth/policy.js';
export { PeerStore, peerIdFor, type PeerRecord } from './peers.js';
export { ERROR_STATUS, toHttpError, errorBody, statusFor } from './http-errors.js';
export { openApiDocument } from './openapi.js';
export { buildApp, routesOf, type RouteInfo } from './app.js';
export type { SyncMount, SyncFactory, SyncMountContext, PeerStatus, SyncNowResult } from './sync-mount.js';
export type { AppContext, CacheDirectory } from './context.js';
export { Readiness, readyzAnswer, type ReadinessCheck, type ReadinessReason, type ReadinessReport, type ReadinessStatus } from './readiness.js';
export { readServerFile, writeServerFile, removeServerFile, serverFilePath, SERVER_FILE, type ServerFileInfo } from './server-file.js';
export { BackupService, backupSections, streamBackup, writeBackupFile, commitBackupFile, discardPartial, scheduledBackupName, listScheduledBackups, pruneScheduledBackups, type BackupFileReport, type BackupKind } from './backup.js';
export { importProfileLogExport, LOG_EXPORT_FORMAT, type LogImportReport, type LogImportResult } from './transfer.js';
export type { ChangeData, ChangeKind } from './changes/hub.js';
export type { HookStatus } from './webhooks/deliverer.js';
