/* The StoreX "Recommended for You" block: fills every block on the page from its JSON URL. */
(() => {
  "use strict";

  const MESSAGES = {
    404: "No recommendations for you yet: browse and rate a few products.",
    503: "Recommendations are unavailable right now. Try again in a moment.",
  };

  function item(entry) {
    const li = document.createElement("li");
    li.className = "storex-item";
    const name = entry.url ? document.createElement("a") : document.createElement("span");
    if (entry.url) name.href = entry.url;
    name.className = "storex-title";
    name.textContent = entry.title || entry.id;
    li.append(name);
    if (entry.price !== null && entry.price !== undefined) {
      const price = document.createElement("span");
      price.className = "storex-price";
      price.textContent = `$${Number(entry.price).toFixed(2)}`;
      li.append(price);
    }
    if (entry.because && entry.because.length) {
      const why = document.createElement("span");
      why.className = "storex-because";
      why.textContent = `Because you liked ${entry.because[0].title || entry.because[0].item_id}`;
      li.append(why);
    }
    return li;
  }

  async function load(block) {
    block.dataset.storexLoaded = "loading";
    const status = block.querySelector(".storex-status");
    const list = block.querySelector(".storex-items");
    let response;
    try {
      response = await fetch(block.dataset.storexUrl, { headers: { Accept: "application/json" } });
    } catch (err) {
      status.textContent = MESSAGES[503];
      block.dataset.storexLoaded = "error";
      return;
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (err) {
      answer = null;
    }
    if (!response.ok || !answer) {
      status.textContent = MESSAGES[response.status] || MESSAGES[503];
      block.dataset.storexLoaded = "error";
      return;
    }
    list.replaceChildren(...answer.items.map(item));
    status.textContent = answer.items.length ? "" : "No recommendations yet.";
    block.dataset.storexStrategy = answer.strategy || "";
    block.dataset.storexLoaded = "done";
  }

  document
    .querySelectorAll(".storex-recommendations[data-storex-url]:not([data-storex-loaded])")
    .forEach(load);
})();
