/** A column of a text table: numbers read best right-aligned. */
export interface Column {
  readonly header: string;
  readonly align: "left" | "right";
}

/** Formats rows of cells as a Markdown table with padded columns (readable raw and rendered). */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const pad = (text: string, i: number): string => {
    const width = widths[i] ?? 0;
    return columns[i]?.align === "right" ? text.padStart(width) : text.padEnd(width);
  };
  const line = (cells: readonly string[]): string => `| ${columns.map((_, i) => pad(cells[i] ?? "", i)).join(" | ")} |`;
  const rule = `|${columns.map((column, i) => (column.align === "right" ? `${"-".repeat((widths[i] ?? 0) + 1)}:` : "-".repeat((widths[i] ?? 0) + 2))).join("|")}|`;
  return [line(columns.map((column) => column.header)), rule, ...rows.map(line)].join("\n");
}

/** A number with a fixed count of decimals and thousands separators; "n/a" for null. */
export function formatNumber(value: number | null, decimals: number): string {
  if (value === null || !Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
