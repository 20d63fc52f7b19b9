/** Where the server writes what it does. Any object with these methods (console, pino...) will do. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const line = (level: string, message: string, fields?: Record<string, unknown>): string =>
  `${new Date().toISOString()} ${level} ${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`;

export const consoleLogger: Logger = {
  info: (m, f) => console.log(line('info', m, f)),
  warn: (m, f) => console.warn(line('WARN', m, f)),
  error: (m, f) => console.error(line('ERROR', m, f)),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
