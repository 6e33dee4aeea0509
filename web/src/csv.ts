// Figures as CSV files a spreadsheet opens as they are (RFC 4180: comma-separated, CRLF, fields with
// a comma, quote or line break quoted), downloaded from the page without another API call.

export type CsvValue = string | number | boolean | null | undefined;

function field(v: CsvValue): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(header: string[], rows: CsvValue[][]): string {
  return [header, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

/** Saves `csv` as `filename` through a temporary link (the browser's own download). */
export function downloadCsv(filename: string, csv: string): void {
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
