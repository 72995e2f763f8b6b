import { MIMEType } from "node:util";
import express, { type RequestHandler } from "express";
import { type JSONPath, visit } from "jsonc-parser";
import { HttpProblem } from "./problem.ts";

/*
 * JSON bodies taken exactly as the client wrote them, or refused. JSON.parse alone accepts three
 * kinds of text and silently changes them: an integer beyond ±2^53-1 is rounded to another
 * integer, a lone surrogate escape ("\ud800") makes a string that is not Unicode (and that UTF-8
 * cannot carry on to the cluster), and of a duplicate member name only the last is kept. Each is
 * refused here with 400 and a detail that names the JSON path and what was wrong.
 *
 * JSON.parse still does the parse: it is strict RFC 8259 (no comments, trailing commas, single
 * quotes), and what it builds is what the gateway proposes. jsonc-parser's `visit` then walks the
 * same text, only to check it: it reports every member name per object, the raw text of every
 * number and the decoded strings, with their paths. Its leniency (comments, trailing commas) never
 * matters, because it only sees text JSON.parse accepted.
 *
 * Decided and accepted as they are:
 * - Numbers with a fraction or an exponent (`0.1`, `1e300`, `3.14159265358979323846`) are floats:
 *   they mean the nearest IEEE 754 double, as they do to every JSON peer (RFC 8259, section 6;
 *   RFC 7493, section 2.2), so rounding them changes nothing the client could have meant. Only
 *   integer syntax asks for an exact integer; that is where rounding loses an id or a counter.
 * - `-0` (and `-0.0`) is accepted and becomes 0: it is the same number as 0, JSON.stringify
 *   writes it as 0, and the gateway compares bodies by value (same-json.ts), so a retry with `0`
 *   is the same request.
 */

/** The charsets JSON may arrive in (RFC 8259, 8.1, and what body-parser's json accepted). */
const UTF_CHARSET = /^utf-/;

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Integer syntax of RFC 8259, section 6: no fraction, no exponent. */
const INTEGER_SYNTAX = /^-?(?:0|[1-9][0-9]*)$/;

/** How much of a member name or number a detail quotes, in UTF-16 code units. */
const QUOTED_LENGTH_MAX = 40;

/**
 * Reads a JSON request body into `req.body`, strictly (see `parseStrictJson`). Mount it after a
 * check that the Content-Type is JSON: it parses whatever arrives. Reading is express's: bodies
 * over `bytesMax` are 413, unknown content encodings and non-UTF charsets 415, and the
 * app's error handler turns those into problems. An absent or empty body leaves `req.body`
 * undefined, for the route to refuse as it sees fit.
 */
export function strictJsonBody(options: { readonly bytesMax: number; readonly depthMax: number }): RequestHandler {
  const readText = express.text({ limit: options.bytesMax, type: () => true, defaultCharset: "utf-8" });
  return (req, res, next) => {
    const charset = charsetOf(req.get("Content-Type"));
    if (charset !== undefined && !UTF_CHARSET.test(charset)) {
      next(new HttpProblem("unsupportedMediaType", `Send JSON in UTF-8; charset ${charset} is not supported`));
      return;
    }
    readText(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      const text: unknown = req.body;
      try {
        req.body = typeof text === "string" && text.length > 0 ? parseStrictJson(text, options.depthMax) : undefined;
      } catch (problem) {
        next(problem);
        return;
      }
      next();
    });
  };
}

/**
 * Parses `text` as JSON with JSON.parse and returns the result, after checking that the result is
 * exactly what the text says: no integer beyond ±2^53-1, no lone surrogate in a string or member
 * name, no member name twice in one object. Throws an HttpProblem: `malformedJson` for text that is
 * not JSON, `invalidBody` for nesting deeper than `depthMax` (arrays and objects), `lossyJson`
 * naming the path and the problem for the rest.
 */
export function parseStrictJson(text: string, depthMax: number): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpProblem("malformedJson", "The body is not valid JSON");
  }
  // jsonc-parser's visit recurses once per level: bound the nesting before walking the text.
  checkDepth(parsed, depthMax);
  checkExact(text);
  return parsed;
}

/** Throws when `value` (as JSON.parse built it) nests deeper than `depthMax`; without recursion. */
function checkDepth(value: unknown, depthMax: number): void {
  const pending: { readonly item: unknown; readonly depth: number }[] = [{ item: value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { item, depth } = next;
    if (item === null || typeof item !== "object") continue;
    if (depth >= depthMax) throw new HttpProblem("invalidBody", `The body nests deeper than ${depthMax} levels`);
    const children: readonly unknown[] = Array.isArray(item) ? item : Object.values(item);
    for (const child of children) pending.push({ item: child, depth: depth + 1 });
  }
}

/** Walks `text`, which JSON.parse accepted, and throws at the first value JSON.parse changed. */
function checkExact(text: string): void {
  // The member names seen so far in each object being walked, innermost last.
  const namesByObject: Set<string>[] = [];
  visit(
    text,
    {
      onObjectBegin: () => {
        namesByObject.push(new Set());
      },
      onObjectEnd: () => {
        namesByObject.pop();
      },
      onObjectProperty: (name, _offset, _length, _line, _column, pathSupplier) => {
        const path = [...pathSupplier(), name];
        const surrogate = loneSurrogate(name);
        if (surrogate !== undefined) throw lossy(path, `lone surrogate ${surrogate} in a member name`);
        const names = namesByObject.at(-1);
        if (names?.has(name) === true) throw lossy(path, `duplicate key ${quote(name)}`);
        names?.add(name);
      },
      onLiteralValue: (value: unknown, offset, length, _line, _column, pathSupplier) => {
        if (typeof value === "string") {
          const surrogate = loneSurrogate(value);
          if (surrogate !== undefined) throw lossy(pathSupplier(), `lone surrogate ${surrogate} in a string`);
          return;
        }
        if (typeof value !== "number") return;
        const source = text.slice(offset, offset + length);
        if (INTEGER_SYNTAX.test(source) && !Number.isSafeInteger(Number(source))) {
          throw lossy(pathSupplier(), `integer ${clip(source)} is beyond ±2^53-1 and would be changed`);
        }
      },
      onError: () => {
        // JSON.parse accepted this text, so the two parsers disagree on it: refuse rather than guess.
        throw new HttpProblem("malformedJson", "The body is not valid JSON");
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
}

/** The first lone surrogate in `text` as its escape (`\ud800`), or undefined when there is none. */
function loneSurrogate(text: string): string | undefined {
  const found = LONE_SURROGATE.exec(text)?.[0];
  return found === undefined ? undefined : `\\u${found.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

function lossy(path: JSONPath, what: string): HttpProblem {
  return new HttpProblem("lossyJson", `${formatPath(path)}: ${what}`);
}

/** A JSON path as a reader writes it: `value.a[2]`, `value["a b"]`; the top level is "the body". */
function formatPath(path: JSONPath): string {
  if (path.length === 0) return "the body";
  return path
    .map((segment, i) => {
      if (typeof segment === "number") return `[${segment}]`;
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment) && segment.length <= QUOTED_LENGTH_MAX) {
        return i === 0 ? segment : `.${segment}`;
      }
      return `[${quote(segment)}]`;
    })
    .join("");
}

/** `text` as a JSON string (lone surrogates escaped), cut short when long. */
function quote(text: string): string {
  return text.length <= QUOTED_LENGTH_MAX
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, QUOTED_LENGTH_MAX))}…`;
}

function clip(text: string): string {
  return text.length <= QUOTED_LENGTH_MAX ? text : `${text.slice(0, QUOTED_LENGTH_MAX)}…`;
}

/** The charset parameter of a Content-Type, lower-cased; undefined when absent or unparsable. */
function charsetOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  try {
    return new MIMEType(contentType).params.get("charset")?.toLowerCase() ?? undefined;
  } catch {
    return undefined;
  }
}
