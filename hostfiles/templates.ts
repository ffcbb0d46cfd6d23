/**
 * Renders the Handlebars templates in templates/. Templates only lay out text: every value they print comes from
 * a typed view model, and structured blocks (YAML, JSON) arrive already serialised by a library (`yamlBlock`).
 * A file that would be only a header around one YAML block is written by `yamlFile`, without a template.
 */
import * as fs from "fs";
import * as path from "path";
import Handlebars from "handlebars";
import * as YAML from "yaml";

export const TEMPLATES_DIR = path.resolve(__dirname, "..", "templates");
/** systemd unit templates (the user keeps units in systemd/, templates for everything else in templates/). */
export const SYSTEMD_DIR = path.resolve(__dirname, "..", "systemd");

/** The host agent's scripts: not templates, shipped byte for byte. */
export const HOST_AGENT_DIR = path.resolve(__dirname, "..", "host-agent");

export type HostScriptName = "monitoring-sync.sh" | "monitoring-apply.sh" | "monitoring-secrets.sh" | "monitoring-health.sh" | "prometheus-start.sh";

/** A host script, verbatim from host-agent/. */
export function hostScript(name: HostScriptName): string {
  return fs.readFileSync(path.join(HOST_AGENT_DIR, name), "utf8");
}

const hb = Handlebars.create();
// Indent a pre-serialised block under a YAML key: {{indent block 4}}.
hb.registerHelper("indent", (text: string, spaces: number) =>
  String(text)
    .split("\n")
    .map((line) => (line.length ? " ".repeat(spaces) + line : line))
    .join("\n"),
);

const cache = new Map<string, Handlebars.TemplateDelegate>();

/**
 * Renders `templates/<name>` with `view`. Strict mode: a template that names a value the view model lacks fails
 * loudly instead of printing an empty string. No HTML escaping: these are config files, not web pages.
 */
export function renderTemplate(name: string, view: object, dir: string = TEMPLATES_DIR): string {
  const file = path.join(dir, name);
  let t = cache.get(file);
  if (!t) {
    t = hb.compile(fs.readFileSync(file, "utf8"), { noEscape: true, strict: true });
    cache.set(file, t);
  }
  return t(view);
}

/** Serialises a value as a YAML block (no document marker, no trailing newline) for a template to place. */
export function yamlBlock(value: unknown): string {
  return YAML.stringify(value, { lineWidth: 0 }).trimEnd();
}

/**
 * A YAML config file: `header` as comment lines (who renders it, what applies it), then the document. A file that
 * is only that needs no template.
 */
export function yamlFile(header: string[], value: unknown): string {
  return `${header.map((line) => `# ${line}\n`).join("")}${yamlBlock(value)}\n`;
}
