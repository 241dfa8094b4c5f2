/**
 * `@profilesync/server/local`: the light part of the server package the CLI loads for every
 * command (config, data dir layout, the local admin token), without Fastify, the store or
 * the crypto stack.
 */
export { loadConfig, defaultConfig, isLoopbackHost, CONFIG_KEYS, DEFAULT_PORT, type ServerConfig, type PeerConfig, type LoadConfigOptions, type ConfigKey } from './config.js';
export { nodePaths, isNodeDir, type NodePaths, type PassphraseProvider } from './paths.js';
export { readAdminToken } from './auth/admin-token.js';
export { readServerFile, serverFilePath, SERVER_FILE, type ServerFileInfo } from './server-file.js';
