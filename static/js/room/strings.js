// The room's words: a table the template fills in, already translated (web/room.py `strings`),
// so the scripts never hold a sentence of their own. `t("call_waiting", { name })` fills %(name)s.

export function strings(table) {
  return function t(key, params = {}) {
    const text = table[key] ?? key;
    return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ""));
  };
}

export function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}
