/**
 * The systemd unit `tsstore service print` writes. The service runs the installed tsstore as an
 * unprivileged user; systemd creates what it needs and hands it over to that user:
 *
 *   RuntimeDirectory=tsstore  → /run/tsstore, the Unix socket's directory (removed at stop)
 *   StateDirectory=tsstore    → /var/lib/tsstore, the data path (kept)
 *   EnvironmentFile=          → TSSTORE_ADMIN_KEY (and any other TSSTORE_* setting), read by
 *                               systemd as root: the key is never on a command line, so never in
 *                               `ps` or the journal
 *
 * SIGTERM is tsstore's graceful stop (answer what was received, close the stores); the stop
 * timeout leaves it room before systemd sends SIGKILL, which loses nothing acknowledged either.
 */
import path from 'node:path';

export interface UnitOptions {
  /** Absolute path of the node binary. */
  readonly node: string;
  /** Absolute path of tsstore's bin/run.js. */
  readonly script: string;
  readonly user: string;
  readonly group: string;
  /** Name under /run and /var/lib (RuntimeDirectory= / StateDirectory=). */
  readonly name: string;
  readonly envFile: string;
  /** Config file given to `serve --config`, if any. */
  readonly config?: string;
  /** MemoryMax= (systemd size, e.g. 512M). */
  readonly memoryMax: string;
}

/** systemd's quoting for one ExecStart= word: plain when safe, double-quoted otherwise. */
function word(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s.replace(/%/g, '%%');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

export function systemdUnit(o: UnitOptions): string {
  for (const [what, p] of [['node', o.node], ['script', o.script], ['env file', o.envFile], ...(o.config ? [['config', o.config]] : [])] as const) {
    if (!path.isAbsolute(p)) throw new Error(`the ${what} path must be absolute: ${p}`);
  }
  if (!/^[a-z_][a-z0-9_-]*$/i.test(o.user) || !/^[a-z_][a-z0-9_-]*$/i.test(o.group)) throw new Error(`not a valid user or group name: ${o.user}:${o.group}`);
  if (!/^[A-Za-z0-9._-]+$/.test(o.name)) throw new Error(`not a valid directory name: ${o.name}`);
  if (!/^(\d+[KMGT]?|infinity)$/.test(o.memoryMax)) throw new Error(`not a systemd memory size: ${o.memoryMax}`);
  const socket = `/run/${o.name}/tsstore.sock`;
  const data = `/var/lib/${o.name}`;
  const exec = [o.node, o.script, 'serve', '--path', data, '--socket', socket, ...(o.config ? ['--config', o.config] : [])].map(word).join(' ');
  return `# tsstore as a systemd service. Written by \`tsstore service print\`; see the README
# ("Run as a service"). Put the admin key in ${o.envFile} (mode 0600):
#   TSSTORE_ADMIN_KEY=<at least 20 characters>
[Unit]
Description=tsstore time-series ingestion gateway
Documentation=file://${path.resolve(path.dirname(o.script), '..', 'README.md')}
After=network-online.target
Wants=network-online.target
# At most 5 failed starts in 60 s, then systemd stops restarting (see systemctl status).
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=simple
User=${o.user}
Group=${o.group}
# /run/${o.name} holds the Unix socket (${socket}); group members may connect.
RuntimeDirectory=${o.name}
RuntimeDirectoryMode=0750
# /var/lib/${o.name} is the data path.
StateDirectory=${o.name}
StateDirectoryMode=0750
WorkingDirectory=${data}
# The admin key comes from here, never from the command line.
EnvironmentFile=${o.envFile}
Environment=NODE_ENV=production
ExecStart=${exec}
# SIGTERM: finish and acknowledge what was received, close the stores, exit 0.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=2
# Limits: descriptors for store.max_open stores plus client connections; bounded memory.
LimitNOFILE=65536
MemoryMax=${o.memoryMax}
TasksMax=256
UMask=0007
# Sandbox: the service writes only its state and runtime directories.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
`;
}
