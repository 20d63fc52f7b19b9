/** Where the server writes what it does. Any object with these methods (console, pino...) will do. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const line = (level: string, message: string, fields?: Record<string, unknown>): string =>
  `${new Date().toISOString()} ${level} ${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`;

/**
 * The app's logger as the server calls it: a call that throws (a file logger whose disk is full, a bug in
 * the app's logger) loses its line and nothing else. The server logs from event handlers and timers (a
 * request's end, an unread reply, a live socket's drain watch, an accept error), where a throw would end
 * the process for every client.
 */
export function neverThrowing(logger: Logger): Logger {
  const guard =
    (level: keyof Logger): Logger[keyof Logger] =>
    (message, fields) => {
      try {
        logger[level](message, fields);
      } catch {
        // The line is lost; serving goes on.
      }
    };
  return { info: guard('info'), warn: guard('warn'), error: guard('error') };
}

/** Human-readable lines: time, level, message, then the fields as JSON. */
export const consoleLogger: Logger = {
  info: (m, f) => console.log(line('info', m, f)),
  warn: (m, f) => console.warn(line('WARN', m, f)),
  error: (m, f) => console.error(line('ERROR', m, f)),
};

/**
 * Structured logs: one JSON object per line, `{ time, level, msg, ...fields }`
 * (request lines carry `requestId`, the id echoed in the reply's x-request-id
 * header), for log shippers. Fields that are undefined are left out.
 */
export function createJsonLogger(write: (line: string) => void = (text) => process.stdout.write(`${text}\n`)): Logger {
  const emit = (level: string, msg: string, fields?: Record<string, unknown>): void => {
    let text: string;
    try {
      text = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    } catch {
      text = JSON.stringify({ time: new Date().toISOString(), level, msg, fields: String(fields) });
    }
    write(text);
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const jsonLogger: Logger = createJsonLogger();

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
