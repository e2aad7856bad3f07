/* StoreX storefront: who is shopping, star ratings in place, the "Recommended for you"
   carousel, registration, sign-in and the profile. Plain JavaScript over the REST API. */
(() => {
  "use strict";

  const root = document.body.dataset.root || "";
  const USER_KEY = "storex.user";
  const API_KEY = "storex.apiKey";
  const CAROUSEL_SIZE = 12;
  const PAGE = 100;
  const UNAVAILABLE =
    "The StoreX service is unavailable right now (no answer from the server). " +
    "Check your connection and try again in a moment.";
  const STRATEGY_NOTES = {
    personalized: "Based on your shopping history.",
    fold_in: "Updated from your latest ratings.",
    cold_start_features: "Picked from your profile: shoppers like you enjoy these.",
    popularity: "Popular with shoppers right now. Rate a few items to make these yours.",
  };
  const GENDERS = { F: "Female", M: "Male", O: "Other" };

  /* ---- storage and the API ---------------------------------------------------------- */

  function read(storage, key) {
    try {
      return storage.getItem(key);
    } catch (err) {
      return null; // storage off (private mode): nobody is signed in
    }
  }

  function write(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
    } catch (err) {
      showPageError("This browser does not let the store remember you (storage is off).");
    }
  }

  const currentUser = () => read(localStorage, USER_KEY);
  const setUser = (id) => write(localStorage, USER_KEY, id);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const key = read(sessionStorage, API_KEY);
    if (key && method !== "GET") headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(root + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, UNAVAILABLE);
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, explain(response.status, data));
    return data;
  }

  function explain(status, data) {
    const detail = (data && data.detail) || `the server answered ${status}`;
    if (status === 401) {
      return `This service needs an API key for changes (${detail}). ` +
        "Enter it under “Service key” at the bottom of the page.";
    }
    if (status >= 502 && status <= 504) return `The StoreX service is unavailable: ${detail}.`;
    return detail.charAt(0).toUpperCase() + detail.slice(1) + (detail.endsWith(".") ? "" : ".");
  }

  const unknownUser = (id) =>
    `Unknown user “${id}”. Check the id, or register as a new shopper.`;

  /* ---- small DOM helpers ------------------------------------------------------------ */

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  const itemUrl = (id) => `${root}/items/${encodeURIComponent(id)}`;
  const price = (value) =>
    value === null || value === undefined ? "—" : `$${Number(value).toFixed(2)}`;

  function setStatus(node, text, isError) {
    if (!node) return;
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  function showPageError(text) {
    const box = document.querySelector("[data-page-error]");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  /* ---- account ---------------------------------------------------------------------- */

  function renderAccount() {
    const user = currentUser();
    document.querySelectorAll("[data-when-signed-in]").forEach((n) => (n.hidden = !user));
    document.querySelectorAll("[data-when-signed-out]").forEach((n) => (n.hidden = Boolean(user)));
    document.querySelectorAll("[data-user-name]").forEach((n) => (n.textContent = user || ""));
  }

  function bindAccount() {
    document.querySelectorAll("[data-sign-out]").forEach((button) =>
      button.addEventListener("click", () => {
        setUser(null);
        window.location.assign(`${root}/`);
      })
    );
    const signIn = document.querySelector("[data-sign-in-form]");
    if (signIn) signIn.addEventListener("submit", onSignIn);
    const register = document.querySelector("[data-register-form]");
    if (register) register.addEventListener("submit", onRegister);
    const keyForm = document.querySelector("[data-key-form]");
    if (keyForm) {
      const status = keyForm.querySelector("[data-key-status]");
      keyForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const value = keyForm.querySelector("input").value.trim();
        write(sessionStorage, API_KEY, value || null);
        status.textContent = value ? "Key kept for this browser tab." : "No key given.";
      });
      keyForm.querySelector("[data-key-forget]").addEventListener("click", () => {
        write(sessionStorage, API_KEY, null);
        keyForm.querySelector("input").value = "";
        status.textContent = "Key forgotten.";
      });
    }
  }

  async function onSignIn(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const error = form.querySelector("[data-form-error]");
    const id = form.elements.user_id.value.trim();
    if (!id) {
      setStatus(error, "Enter your user id.", true);
      return;
    }
    setStatus(error, "");
    try {
      await api("GET", `/api/users/${encodeURIComponent(id)}`);
    } catch (err) {
      setStatus(error, err.status === 404 ? unknownUser(id) : err.message, true);
      return;
    }
    setUser(id);
    window.location.assign(`${root}/`);
  }

  async function onRegister(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const error = form.querySelector("[data-form-error]");
    const button = form.querySelector("button[type=submit]");
    const body = {};
    for (const name of ["external_id", "age", "gender", "occupation", "zip"]) {
      const value = form.elements[name].value.trim();
      if (value) body[name] = name === "age" ? Number(value) : value;
    }
    if ("age" in body && !(Number.isInteger(body.age) && body.age >= 1 && body.age <= 120)) {
      setStatus(error, "Age must be a whole number from 1 to 120.", true);
      form.elements.age.focus();
      return;
    }
    setStatus(error, "");
    button.disabled = true;
    try {
      const user = await api("POST", "/api/users", body);
      setUser(user.id);
      window.location.assign(`${root}/?welcome=1`);
    } catch (err) {
      setStatus(error, err.message, true);
      button.disabled = false;
    }
  }

  /* ---- ratings and stars ------------------------------------------------------------ */

  const myRatings = new Map(); // item id -> {id, rating}

  async function loadMyRatings(user) {
    myRatings.clear();
    for (let offset = 0; ; offset += PAGE) {
      const page = await api(
        "GET",
        `/api/users/${encodeURIComponent(user)}/ratings?limit=${PAGE}&offset=${offset}`
      );
      for (const r of page.ratings) myRatings.set(r.item_id, { id: r.id, rating: r.rating });
      if (offset + PAGE >= page.total) return;
    }
  }

  function paint(fieldset, value) {
    const stars = Math.round(value || 0);
    fieldset.querySelectorAll("input").forEach((input) => {
      input.checked = Number(input.value) === stars;
    });
    fieldset.querySelectorAll("label").forEach((label, i) => label.classList.toggle("lit", i < stars));
  }

  function currentValue(fieldset) {
    const known = myRatings.get(fieldset.dataset.rateItem);
    return known ? known.rating : 0;
  }

  function paintItem(itemId) {
    document.querySelectorAll("[data-rate-item]").forEach((fieldset) => {
      if (fieldset.dataset.rateItem === itemId) paint(fieldset, currentValue(fieldset));
    });
  }

  function bindStars(fieldset) {
    const labels = fieldset.querySelectorAll("label");
    labels.forEach((label, i) => {
      label.addEventListener("mouseenter", () =>
        labels.forEach((l, j) => l.classList.toggle("lit", j <= i))
      );
    });
    fieldset.addEventListener("mouseleave", () => paint(fieldset, currentValue(fieldset)));
    fieldset.querySelectorAll("input").forEach((input) =>
      input.addEventListener("change", () => rate(fieldset, Number(input.value)))
    );
  }

  async function saveRating(user, item, value) {
    const known = myRatings.get(item);
    if (known) return api("PUT", `/api/ratings/${known.id}`, { rating: value });
    try {
      return await api("POST", "/api/ratings", { user_id: user, item_id: item, rating: value });
    } catch (err) {
      if (err.status !== 409) throw err;
      await loadMyRatings(user); // rated in another tab meanwhile: change that rating
      const again = myRatings.get(item);
      if (!again) throw err;
      return api("PUT", `/api/ratings/${again.id}`, { rating: value });
    }
  }

  async function rate(fieldset, value) {
    const status = fieldset.querySelector("[data-stars-status]");
    const item = fieldset.dataset.rateItem;
    const user = currentUser();
    if (!user) {
      paint(fieldset, 0);
      setStatus(status, "Register or sign in to rate items.", true);
      return;
    }
    fieldset.classList.add("busy");
    setStatus(status, "Saving…");
    try {
      const saved = await saveRating(user, item, value);
      myRatings.set(item, { id: saved.id, rating: saved.rating });
      paintItem(item);
      setStatus(status, `Rated ${value} star${value > 1 ? "s" : ""}.`);
      refreshCarousels();
    } catch (err) {
      paint(fieldset, currentValue(fieldset));
      setStatus(status, err.status === 404 ? unknownUser(user) : err.message, true);
    } finally {
      fieldset.classList.remove("busy");
    }
  }

  function starWidget(itemId, title, uid) {
    const fieldset = el(
      "fieldset",
      { class: "stars", "data-rate-item": itemId },
      el("legend", { class: "visually-hidden", text: `Your rating of ${title || itemId}` })
    );
    for (let n = 1; n <= 5; n++) {
      fieldset.append(
        el("input", { class: "visually-hidden", type: "radio", id: `${uid}-${n}`, name: uid, value: n }),
        el(
          "label",
          { for: `${uid}-${n}` },
          el("span", { "aria-hidden": "true", text: "★" }),
          el("span", { class: "visually-hidden", text: `${n} star${n > 1 ? "s" : ""}` })
        )
      );
    }
    fieldset.append(el("span", { class: "stars-status", role: "status", "data-stars-status": true }));
    bindStars(fieldset);
    return fieldset;
  }

  /* ---- the carousel ----------------------------------------------------------------- */

  const carouselRuns = new WeakMap();

  function refreshCarousels() {
    document.querySelectorAll("[data-carousel]").forEach(loadCarousel);
  }

  function recommendationCard(item) {
    const card = el(
      "article",
      { class: "card", "data-rec-item": item.id },
      el("h3", {}, el("a", { href: itemUrl(item.id), text: item.title || item.id }))
    );
    if (item.categories && item.categories.length) {
      card.append(el("p", { class: "chips" }, ...item.categories.map((c) => el("span", { class: "chip", text: c }))));
    }
    card.append(el("p", { class: "price", text: price(item.price) }));
    if (item.because && item.because.length) {
      const first = item.because[0];
      card.append(
        el(
          "p",
          { class: "because" },
          "Because you rated ",
          el("a", { href: itemUrl(first.item_id), text: first.title || first.item_id })
        )
      );
    }
    return el("li", {}, card);
  }

  async function loadCarousel(section) {
    const run = (carouselRuns.get(section) || 0) + 1;
    carouselRuns.set(section, run);
    const status = section.querySelector("[data-carousel-status]");
    const note = section.querySelector("[data-carousel-note]");
    const track = section.querySelector("[data-carousel-track]");
    const user = currentUser();
    if (!user) {
      track.replaceChildren();
      note.textContent = "";
      setStatus(status, "Register or sign in to get recommendations picked for you.");
      return;
    }
    section.setAttribute("aria-busy", "true");
    try {
      const answer = await api(
        "GET",
        `/api/recommendations/${encodeURIComponent(user)}?n=${CAROUSEL_SIZE}&explain=true`
      );
      if (carouselRuns.get(section) !== run) return; // a newer refresh is on its way
      section.dataset.strategy = answer.strategy;
      note.textContent = STRATEGY_NOTES[answer.strategy] || "";
      track.replaceChildren(...answer.items.map(recommendationCard));
      setStatus(
        status,
        answer.items.length
          ? `${answer.items.length} picks for you.`
          : "No recommendations yet: rate a few items you know."
      );
    } catch (err) {
      if (carouselRuns.get(section) !== run) return;
      track.replaceChildren();
      note.textContent = "";
      setStatus(status, err.status === 404 ? unknownUser(user) : err.message, true);
    } finally {
      if (carouselRuns.get(section) === run) section.removeAttribute("aria-busy");
    }
  }

  function bindCarousel(section) {
    const track = section.querySelector("[data-carousel-track]");
    const step = (direction) => track.scrollBy({ left: direction * track.clientWidth * 0.8 });
    section.querySelector("[data-carousel-prev]").addEventListener("click", () => step(-1));
    section.querySelector("[data-carousel-next]").addEventListener("click", () => step(1));
    loadCarousel(section);
  }

  /* ---- the profile ------------------------------------------------------------------ */

  async function loadProfile(container, user) {
    const details = container.querySelector("[data-profile-details]");
    const status = container.querySelector("[data-history-status]");
    let profile;
    try {
      profile = await api("GET", `/api/users/${encodeURIComponent(user)}`);
    } catch (err) {
      const text = err.status === 404
        ? `Unknown user “${user}”: this profile does not exist (any more). Sign out and register again.`
        : err.message;
      showPageError(text);
      setStatus(status, text, true);
      return;
    }
    const rows = [
      ["User id", profile.id],
      ["Age", profile.age],
      ["Gender", GENDERS[profile.gender] || profile.gender],
      ["Occupation", profile.occupation],
      ["Zip code", profile.zip],
      ["Member since", new Date(profile.created_at).toLocaleDateString()],
    ];
    details.replaceChildren(
      ...rows.flatMap(([name, value]) => [
        el("dt", { text: name }),
        el("dd", { text: value === null || value === undefined ? "—" : String(value) }),
      ])
    );
    await loadHistory(container, user);
  }

  async function loadHistory(container, user) {
    const status = container.querySelector("[data-history-status]");
    const table = container.querySelector("[data-history]");
    const body = container.querySelector("[data-history-rows]");
    const ratings = [];
    try {
      for (let offset = 0; ; offset += PAGE) {
        const page = await api(
          "GET",
          `/web/api/users/${encodeURIComponent(user)}/ratings?limit=${PAGE}&offset=${offset}`
        );
        ratings.push(...page.ratings);
        if (offset + PAGE >= page.total) break;
      }
    } catch (err) {
      setStatus(status, err.message, true);
      return;
    }
    myRatings.clear();
    ratings.forEach((r) => myRatings.set(r.item_id, { id: r.id, rating: r.rating }));
    body.replaceChildren(...ratings.map((r, i) => historyRow(r, i, container)));
    table.hidden = ratings.length === 0;
    setStatus(
      status,
      ratings.length
        ? `You rated ${ratings.length} item${ratings.length > 1 ? "s" : ""}. Change the stars to edit a rating.`
        : "You have not rated anything yet. Browse the catalog and rate what you know."
    );
    ratings.forEach((r) => paintItem(r.item_id));
  }

  function historyRow(rating, index, container) {
    const title = rating.title || rating.item_id;
    const remove = el("button", { type: "button", class: "secondary", text: "Remove" });
    remove.setAttribute("aria-label", `Remove your rating of ${title}`);
    const row = el(
      "tr",
      { "data-history-item": rating.item_id },
      el("td", {}, el("a", { href: itemUrl(rating.item_id), text: title })),
      el("td", {}, starWidget(rating.item_id, title, `history-${index}`)),
      el("td", { text: new Date(rating.rated_at).toLocaleString() }),
      el("td", {}, remove)
    );
    remove.addEventListener("click", async () => {
      const status = container.querySelector("[data-history-status]");
      remove.disabled = true;
      try {
        await api("DELETE", `/api/ratings/${rating.id}`);
        myRatings.delete(rating.item_id);
        row.remove();
        setStatus(status, `Removed your rating of ${title}.`);
      } catch (err) {
        remove.disabled = false;
        setStatus(status, err.message, true);
      }
    });
    return row;
  }

  /* ---- start ------------------------------------------------------------------------ */

  async function start() {
    renderAccount();
    bindAccount();
    document.querySelectorAll("[data-rate-item]").forEach(bindStars);
    document.querySelectorAll("[data-carousel]").forEach(bindCarousel);
    const user = currentUser();
    const profile = document.querySelector("[data-profile]");
    if (user && profile) {
      await loadProfile(profile, user);
    } else if (user && document.querySelector("[data-rate-item]")) {
      try {
        await loadMyRatings(user);
        document.querySelectorAll("[data-rate-item]").forEach((f) => paint(f, currentValue(f)));
      } catch (err) {
        showPageError(err.status === 404 ? unknownUser(user) : err.message);
      }
    }
  }

  start();
})();
