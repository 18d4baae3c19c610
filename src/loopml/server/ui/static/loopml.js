// loopml UI helpers: API calls from pages (the cookie stands for the token with X-Loopml-UI)
"use strict";
window.loopml = {
  async api(method, path, body) {
    const answer = await fetch(path, {
      method,
      headers: {"Content-Type": "application/json", "X-Loopml-UI": "1"},
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const text = await answer.text();
    const doc = text ? JSON.parse(text) : null;
    if (!answer.ok) {
      const message = doc && doc.error ? doc.error.message : answer.status + " " + answer.statusText;
      throw new Error(message);
    }
    return doc;
  },
};
