// How many statements a piece of SQL from the configuration holds, so that a check written as
// "SELECT 0; COMMIT; CREATE TABLE …" is refused when the file is loaded, before it reaches a database.
// Semicolons inside quotes, quoted identifiers, dollar quotes and comments do not end a statement;
// a trailing semicolon does not start another. The database refuses several statements anyway (the
// checks run through the extended protocol): this is the earlier, clearer refusal.

/** The number of non-empty statements in `sql`. */
export function statementCount(sql: string): number {
  let count = 0;
  let content = false; // the current statement has something besides blanks and comments
  let i = 0;
  const skipTo = (end: string, from: number) => {
    const at = sql.indexOf(end, from);
    return at < 0 ? sql.length : at + end.length;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      i = skipTo('\n', i + 2);
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith('/*', i)) depth++;
        else if (sql.startsWith('*/', i)) depth--;
        else {
          i++;
          continue;
        }
        i += 2;
      }
    } else if (c === ';') {
      if (content) count++;
      content = false;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      content = true;
      i = skipToken(sql, i);
    }
  }
  return content ? count + 1 : count;
}

/** The index after the token starting at `i`: a quoted string or identifier, a dollar-quoted body, or one character. */
function skipToken(sql: string, i: number): number {
  const c = sql[i]!;
  const escapes = (c === 'E' || c === 'e') && sql[i + 1] === "'";
  if (c === "'" || c === '"' || escapes) {
    const quote = escapes ? "'" : c;
    let j = escapes ? i + 2 : i + 1;
    while (j < sql.length) {
      if (escapes && sql[j] === '\\') j += 2;
      else if (sql[j] === quote && sql[j + 1] === quote) j += 2;
      else if (sql[j] === quote) return j + 1;
      else j++;
    }
    return j;
  }
  const tag = c === '$' ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i)) : null;
  if (tag) {
    const end = sql.indexOf(tag[0], i + tag[0].length);
    return end < 0 ? sql.length : end + tag[0].length;
  }
  // An identifier or number as a whole, so that an "e'" ending a name does not open an escape string.
  const word = /^[A-Za-z0-9_$]+/.exec(sql.slice(i));
  return i + (word ? word[0].length : 1);
}
