import { readFileSync } from "node:fs";
import { clusterUser, type ClusterRole } from "@paxos/wire";
import { ConfigError, envVar } from "./env.ts";

/** How a process connects to NATS: where, as whom, and over what. */
export interface NatsClientConfig {
  /** NATS_URL. Default nats://127.0.0.1:4222. Never logged as given: it may hold a password. */
  readonly url: string;
  /** NATS_USER (default `<role>-<id>`, as the permission file spells it) and its password. */
  readonly credentials: { readonly user: string; readonly password: string } | null;
  /** NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE, NATS_TLS_KEY_FILE; null when none is set. */
  readonly tls: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | null;
}

/**
 * The NATS variables every process reads. A password is required: NATS_PASSWORD, or
 * NATS_PASSWORD_FILE (a file holding it, as Kubernetes and compose mount secrets). Only
 * PAXOS_DEV_NATS_ANONYMOUS=1 lets a process connect without one, for development against a NATS
 * that has no authentication; the process then says so loudly at every start.
 */
export const natsSpec = {
  NATS_URL: envVar.url(["nats", "tls", "ws", "wss"]).default("nats://127.0.0.1:4222"),
  NATS_USER: envVar.text().nullable().default(null),
  NATS_PASSWORD: envVar.text().nullable().default(null),
  NATS_PASSWORD_FILE: envVar.text().nullable().default(null),
  NATS_TLS_CA_FILE: envVar.text().nullable().default(null),
  NATS_TLS_CERT_FILE: envVar.text().nullable().default(null),
  NATS_TLS_KEY_FILE: envVar.text().nullable().default(null),
  PAXOS_DEV_NATS_ANONYMOUS: envVar.flag().default(false),
};

/** The values natsSpec reads. */
export interface NatsValues {
  readonly NATS_URL: string;
  readonly NATS_USER: string | null;
  readonly NATS_PASSWORD: string | null;
  readonly NATS_PASSWORD_FILE: string | null;
  readonly NATS_TLS_CA_FILE: string | null;
  readonly NATS_TLS_CERT_FILE: string | null;
  readonly NATS_TLS_KEY_FILE: string | null;
  readonly PAXOS_DEV_NATS_ANONYMOUS: boolean;
}

/**
 * The NATS connection of process `role`/`id` from its variables. Throws ConfigError when no
 * password is given (and PAXOS_DEV_NATS_ANONYMOUS is not set), when both a password and a
 * password file are, when the file cannot be read or is empty, or when a client certificate
 * comes without its key. Never puts a password in a message.
 */
export function natsClientConfig(values: NatsValues, role: ClusterRole, id: string): NatsClientConfig {
  const problems: string[] = [];
  let password = values.NATS_PASSWORD;
  if (password !== null && values.NATS_PASSWORD_FILE !== null) {
    problems.push("NATS_PASSWORD and NATS_PASSWORD_FILE are both set; set one");
  } else if (values.NATS_PASSWORD_FILE !== null) {
    password = readSecretFile(values.NATS_PASSWORD_FILE, "NATS_PASSWORD_FILE", problems);
  }
  if (password === null && !values.PAXOS_DEV_NATS_ANONYMOUS && problems.length === 0) {
    problems.push(
      "NATS_PASSWORD or NATS_PASSWORD_FILE is required: every process authenticates to NATS with its own user " +
        `(default ${clusterUser(role, id)}). For development against a NATS without authentication, set ` +
        "PAXOS_DEV_NATS_ANONYMOUS=1.",
    );
  }
  if (password !== null && values.PAXOS_DEV_NATS_ANONYMOUS) {
    problems.push("PAXOS_DEV_NATS_ANONYMOUS=1 and a NATS password are both set; drop one");
  }
  if ((values.NATS_TLS_CERT_FILE === null) !== (values.NATS_TLS_KEY_FILE === null)) {
    problems.push("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together: set both or neither");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const tls = {
    ...(values.NATS_TLS_CA_FILE === null ? {} : { caFile: values.NATS_TLS_CA_FILE }),
    ...(values.NATS_TLS_CERT_FILE === null ? {} : { certFile: values.NATS_TLS_CERT_FILE }),
    ...(values.NATS_TLS_KEY_FILE === null ? {} : { keyFile: values.NATS_TLS_KEY_FILE }),
  };
  return {
    url: values.NATS_URL,
    credentials: password === null ? null : { user: values.NATS_USER ?? clusterUser(role, id), password },
    tls: Object.keys(tls).length === 0 ? null : tls,
  };
}

/** `url` without its user and password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return `${parsed.toString()} (credentials in the URL hidden)`;
  } catch {
    return "(unparsable URL)";
  }
}

function readSecretFile(path: string, variable: string, problems: string[]): string | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    problems.push(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return null;
  }
  const secret = text.trim();
  if (secret === "") problems.push(`${variable}: ${path} is empty`);
  return secret === "" ? null : secret;
}
