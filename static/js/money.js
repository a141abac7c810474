// Money as the pages show it: paise (integers) in, rupees out, formatted exactly as the
// server's `rupees` filter does (web/templatetags/site.py): "₹1,234.50", Indian grouping.

const rupeeFormat = new Intl.NumberFormat("en-IN", {
  style: "currency",
  currency: "INR",
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

export function formatRupees(paise) {
  const value = Number(paise);
  if (!Number.isFinite(value)) return "";
  // Integer paise -> rupees with exact hundredths (no binary-fraction surprises).
  const negative = value < 0;
  const text = rupeeFormat.format(Math.trunc(Math.abs(value)) / 100);
  return negative ? `-${text}` : text;
}

// "mm:ss" (or "h:mm:ss" past an hour) for a count of seconds.
export function clock(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}
