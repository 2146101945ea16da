/*! recsvc widget: cross-sell recommendations for any page, no dependencies. See docs/widget.md.
 *
 *   <div data-recsvc-placement="related" data-recsvc-item="85123A" data-recsvc-k="6"></div>
 *   <script src="https://recs.example/static/recsvc-widget.js" defer></script>
 *
 * Contract with the host page: this script never throws into it. Every entry point is
 * wrapped in try/catch; a slow, failing or absent service renders nothing and logs one
 * `console.warn("recsvc: ...")`. All text from the service is set with textContent.
 */
(function (window, document) {
  "use strict";

  var PREFIX = "recsvc: ";
  var ANON_KEY = "recsvc.anonymous_id";
  var ATTRIBUTION_KEY = "recsvc.attribution";
  var DEFAULT_TIMEOUT_MS = 1500;
  var DEFAULT_K = 6;
  var FLUSH_INTERVAL_MS = 5000;
  var MAX_BATCH = 50; // keeps a beacon / keepalive body well under the 64 KB browser limit
  var MAX_QUEUE = 500;
  var TITLES = {
    related: "Customers also bought",
    cart: "Complete your order",
    next: "Recommended for you",
  };
  var PAGE_TYPES = { related: "product", cart: "cart", next: "home" };
  var CSS = [
    ".recsvc-widget{margin:1.5rem 0;font:inherit;color:inherit}",
    ".recsvc-title{font-size:1.15rem;font-weight:600;margin:0 0 .75rem}",
    ".recsvc-list{display:flex;gap:.75rem;list-style:none;margin:0;padding:0 0 .5rem;",
    "overflow-x:auto;scroll-snap-type:x mandatory;-webkit-overflow-scrolling:touch}",
    ".recsvc-card{flex:1 0 9.5rem;max-width:14rem;scroll-snap-align:start;display:flex;",
    "flex-direction:column;border:1px solid #e3e3e3;border-radius:.5rem;background:#fff;",
    "overflow:hidden}",
    ".recsvc-link{display:flex;flex-direction:column;flex:1;gap:.35rem;padding:0 0 .5rem;",
    "color:inherit;text-decoration:none;background:none;border:0;font:inherit;",
    "text-align:left;cursor:pointer}",
    ".recsvc-link:hover .recsvc-name,.recsvc-link:focus-visible .recsvc-name{",
    "text-decoration:underline}",
    ".recsvc-link:focus-visible{outline:2px solid #2463eb;outline-offset:-2px}",
    ".recsvc-img{display:block;width:100%;aspect-ratio:4/3;object-fit:cover;",
    "background:#f1f1f1}",
    ".recsvc-placeholder{background:linear-gradient(135deg,#eef0f3,#dde1e7)}",
    ".recsvc-name{padding:0 .6rem;font-size:.9rem;line-height:1.25;overflow-wrap:anywhere}",
    ".recsvc-price{padding:0 .6rem;font-weight:600}",
    ".recsvc-reason{margin:0;padding:0 .6rem .6rem;font-size:.78rem;color:#5b6270}",
    "@media (max-width:600px){.recsvc-card{flex:0 0 42%}}",
  ].join("");

  function warn(message, error) {
    try {
      if (!window.console || !window.console.warn) return;
      if (error === undefined) window.console.warn(PREFIX + message);
      else window.console.warn(PREFIX + message, error);
    } catch (ignored) {
      /* a console that throws is not our business */
    }
  }

  /** Wrap `fn` so that it never throws: failures become one console warning. */
  function guard(name, fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (error) {
        warn(name + " failed", error);
        return undefined;
      }
    };
  }

  // ---- storage and ids -----------------------------------------------------------------

  /** localStorage / sessionStorage, or an in-memory stand-in when the browser refuses. */
  function storage(kind) {
    var memory = {};
    function real() {
      try {
        return window[kind] || null;
      } catch (blocked) {
        return null; // e.g. cookies disabled: merely reading the property throws
      }
    }
    return {
      get: function (key) {
        try {
          var store = real();
          return store ? store.getItem(key) : memory[key] || null;
        } catch (error) {
          return memory[key] || null;
        }
      },
      set: function (key, value) {
        memory[key] = value;
        try {
          var store = real();
          if (store) store.setItem(key, value);
        } catch (error) {
          /* quota exceeded or private mode: the in-memory copy lasts for this page */
        }
      },
    };
  }

  var local = storage("localStorage");
  var session = storage("sessionStorage");

  /** A random RFC 4122 v4 id; `crypto.randomUUID` exists only in secure contexts. */
  function uuid() {
    var cryptoApi = window.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
      return cryptoApi.randomUUID();
    }
    var bytes = new Uint8Array(16);
    if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
      cryptoApi.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return [
      hex.slice(0, 8),
      hex.slice(8, 12),
      hex.slice(12, 16),
      hex.slice(16, 20),
      hex.slice(20),
    ].join("-");
  }

  /** The visitor's anonymous id, kept in localStorage across visits. */
  function anonymousId() {
    var id = local.get(ANON_KEY);
    if (!id || id.length > 128) {
      id = uuid();
      local.set(ANON_KEY, id);
    }
    return id;
  }

  /** Remember which recommendation (and slot) led to an item, for the rest of the session,
   * so that a later bid or purchase of that item is attributed to it. */
  function rememberAttribution(itemId, recommendationId, position) {
    var map = readAttribution();
    map[itemId] = { recommendation_id: recommendationId, position: position };
    var keys = Object.keys(map);
    if (keys.length > 50) delete map[keys[0]];
    session.set(ATTRIBUTION_KEY, JSON.stringify(map));
  }

  function readAttribution() {
    try {
      var parsed = JSON.parse(session.get(ATTRIBUTION_KEY) || "{}");
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch (error) {
      return {};
    }
  }

  // ---- configuration ---------------------------------------------------------------------

  function findScript() {
    var current = document.currentScript;
    if (current && current.src) return current;
    var scripts = document.querySelectorAll("script[src*='recsvc-widget']");
    return scripts.length ? scripts[scripts.length - 1] : null;
  }

  var script = findScript();

  /** `data-recsvc-<name>` of the container, else of the script tag, else `fallback`. */
  function option(container, name, fallback) {
    var attribute = "data-recsvc-" + name;
    var value = container && container.getAttribute(attribute);
    if (value === null || value === undefined || value === "") {
      value = script ? script.getAttribute(attribute) : null;
    }
    return value === null || value === undefined || value === "" ? fallback : value;
  }

  function positiveInt(value, fallback) {
    var number = parseInt(value, 10);
    return number > 0 ? number : fallback;
  }

  function endpoint() {
    var configured = option(null, "endpoint", "");
    var base = configured || (script ? new URL(script.src, window.location.href).origin : "");
    return base.replace(/\/+$/, "");
  }

  /** "mobile", "tablet" or "desktop", from the user agent and the viewport. */
  function detectDevice() {
    var agent = (window.navigator && window.navigator.userAgent) || "";
    if (/iPad|Tablet|PlayBook|Silk|Android(?!.*Mobile)/i.test(agent)) return "tablet";
    if (/Mobi|iPhone|iPod|Android|Windows Phone/i.test(agent)) return "mobile";
    var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    var narrow = window.matchMedia && window.matchMedia("(max-width: 600px)").matches;
    if (narrow) return "mobile";
    if (coarse && window.matchMedia("(max-width: 1100px)").matches) return "tablet";
    return "desktop";
  }

  // ---- events: queue, batches, beacon ----------------------------------------------------

  var queue = [];
  var flushTimer = null;
  var modern = typeof window.fetch === "function" && typeof window.WeakMap === "function";
  var latest = modern ? new WeakMap() : null; // container → token of its latest load
  var observers = modern ? new WeakMap() : null; // container → observer of its cards
  var subjectUser = null; // the last user id a container or call named

  function subject() {
    var ids = { session_id: anonymousId() };
    if (subjectUser) ids.user_id = subjectUser;
    return ids;
  }

  function enqueue(type, itemId, details) {
    if (typeof itemId !== "string" || !itemId) {
      warn(type + " event ignored: an item id (string) is required");
      return;
    }
    var event = subject();
    event.event_id = uuid();
    event.type = type;
    event.item_id = itemId;
    event.timestamp = new Date().toISOString();
    Object.assign(event, compact(details || {}));
    queue.push(event);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (flushTimer === null) {
      flushTimer = window.setTimeout(guard("timed flush", timedFlush), FLUSH_INTERVAL_MS);
    }
  }

  function timedFlush() {
    flushTimer = null;
    flush(false);
  }

  /** Send every queued event; returns a Promise that never rejects. With `beacon` (the
   * page may be unloading) and a same-origin endpoint, use navigator.sendBeacon. Otherwise,
   * and always cross-origin, fetch with keepalive (which also outlives the page): a beacon
   * is sent with credentials, so a cross-origin JSON beacon would need the service to
   * answer its preflight with Access-Control-Allow-Credentials, which it need not. */
  function flush(beacon) {
    var sends = [];
    var useBeacon = beacon && sameOrigin(eventsUrl());
    while (queue.length) {
      var batch = queue.splice(0, MAX_BATCH);
      sends.push(useBeacon && sendBeacon(batch) ? Promise.resolve() : post(batch));
    }
    return Promise.all(sends).then(function () {
      return undefined;
    });
  }

  function eventsUrl() {
    return endpoint() + "/v1/events";
  }

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (error) {
      return false;
    }
  }

  function sendBeacon(batch) {
    if (!window.navigator || typeof window.navigator.sendBeacon !== "function") return false;
    var blob = new Blob([JSON.stringify({ events: batch })], { type: "application/json" });
    try {
      return window.navigator.sendBeacon(eventsUrl(), blob);
    } catch (error) {
      return false;
    }
  }

  function post(batch) {
    return window
      .fetch(eventsUrl(), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ events: batch }),
        keepalive: true,
        credentials: "omit",
      })
      .then(function (response) {
        if (response.status >= 500) requeue(batch);
        if (!response.ok) warn("events rejected with HTTP " + response.status);
      })
      .catch(function (error) {
        requeue(batch); // event ids make the retry idempotent on the server
        warn("events not sent", error && error.message);
      });
  }

  function requeue(batch) {
    queue = batch.concat(queue).slice(0, MAX_QUEUE);
  }

  // ---- fetching recommendations ----------------------------------------------------------

  /** A copy of `values` without undefined, null and empty-string values. */
  function compact(values) {
    var kept = {};
    Object.keys(values).forEach(function (key) {
      var value = values[key];
      if (value !== undefined && value !== null && value !== "") kept[key] = value;
    });
    return kept;
  }

  function query(params) {
    var kept = compact(params);
    return Object.keys(kept)
      .map(function (key) {
        return encodeURIComponent(key) + "=" + encodeURIComponent(kept[key]);
      })
      .join("&");
  }

  /** The request of one container: { url, init } for fetch, or throws naming the problem. */
  function buildRequest(container, placement) {
    var user = option(container, "user", "");
    var context = compact({
      device: detectDevice(),
      country: option(container, "country", ""),
      channel: option(container, "channel", "web"),
      page_type: option(container, "page-type", PAGE_TYPES[placement]),
    });
    var k = positiveInt(option(container, "k", ""), DEFAULT_K);
    var base = endpoint();
    if (placement === "related") {
      var item = option(container, "item", "");
      if (!item) throw new Error("data-recsvc-item is required for placement related");
      var params = Object.assign({ k: k, user_id: user, session_id: anonymousId() }, context);
      params.category = option(container, "category", "");
      return {
        url: base + "/v1/items/" + encodeURIComponent(item) + "/related?" + query(params),
        init: { method: "GET" },
      };
    }
    if (placement === "cart") {
      var body = {
        items: cartItems(container),
        session_id: anonymousId(),
        context: context,
        k: k,
      };
      if (user) body.user_id = user;
      return {
        url: base + "/v1/cart/recommendations",
        init: {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        },
      };
    }
    if (placement === "next") {
      var nextParams = Object.assign({ k: k, session_id: anonymousId() }, context);
      var path = encodeURIComponent(user || anonymousId());
      return {
        url: base + "/v1/users/" + path + "/recommendations?" + query(nextParams),
        init: { method: "GET" },
      };
    }
    throw new Error("unknown data-recsvc-placement " + JSON.stringify(placement));
  }

  function cartItems(container) {
    var seen = {};
    return option(container, "cart", "")
      .split(",")
      .map(function (id) {
        return id.trim();
      })
      .filter(function (id) {
        if (!id || seen[id]) return false;
        seen[id] = true;
        return true;
      });
  }

  function fetchJson(url, init, timeoutMs) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = window.setTimeout(function () {
      if (controller) controller.abort();
    }, timeoutMs);
    init.signal = controller ? controller.signal : undefined;
    init.credentials = "omit";
    return window
      .fetch(url, init)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .finally(function () {
        window.clearTimeout(timer);
      });
  }

  /** The response if it has the documented shape, else throws naming what is wrong. */
  function checkResponse(data) {
    if (!data || typeof data !== "object" || !Array.isArray(data.items)) {
      throw new Error("response has no items list");
    }
    if (typeof data.recommendation_id !== "string" || !data.recommendation_id) {
      throw new Error("response has no recommendation_id");
    }
    data.items.forEach(function (item) {
      if (!item || typeof item.item_id !== "string") {
        throw new Error("response item without an item_id");
      }
    });
    return data;
  }

  // ---- rendering -------------------------------------------------------------------------

  function injectCss() {
    if (document.getElementById("recsvc-style")) return;
    var style = document.createElement("style");
    style.id = "recsvc-style";
    style.textContent = CSS;
    var parent = document.head || document.documentElement;
    parent.insertBefore(style, parent.firstChild); // first, so the host's own CSS wins ties
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatPrice(price) {
    if (typeof price !== "number" || !isFinite(price)) return "";
    var currency = option(null, "currency", "GBP");
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency }).format(
        price,
      );
    } catch (error) {
      return price.toFixed(2); // an invalid currency code throws a RangeError
    }
  }

  /** Only http(s) and relative image URLs; anything else becomes the placeholder. */
  function safeImageUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      var protocol = new URL(url, window.location.href).protocol;
      return protocol === "http:" || protocol === "https:" ? url : null;
    } catch (error) {
      return null;
    }
  }

  function productLink(container, itemId, recommendationId) {
    var template = option(container, "link", "");
    if (!template) return null;
    return template
      .replace(/\{item_id\}/g, encodeURIComponent(itemId))
      .replace(/\{recommendation_id\}/g, encodeURIComponent(recommendationId));
  }

  function card(container, item, position, recommendationId) {
    var name = item.name || item.item_id;
    var li = element("li", "recsvc-card");
    li.setAttribute("data-item-id", item.item_id);
    li.setAttribute("data-position", String(position));
    var href = productLink(container, item.item_id, recommendationId);
    var link = element(href ? "a" : "button", "recsvc-link");
    if (href) link.setAttribute("href", href);
    else link.setAttribute("type", "button");
    link.setAttribute("data-item-id", item.item_id);
    link.setAttribute("data-position", String(position));
    var image = safeImageUrl(item.image_url);
    var picture;
    if (image) {
      picture = element("img", "recsvc-img");
      picture.setAttribute("src", image);
      picture.setAttribute("alt", name);
      picture.setAttribute("loading", "lazy");
    } else {
      picture = element("div", "recsvc-img recsvc-placeholder");
      picture.setAttribute("aria-hidden", "true");
    }
    link.appendChild(picture);
    link.appendChild(element("span", "recsvc-name", name));
    var price = formatPrice(item.price);
    if (price) link.appendChild(element("span", "recsvc-price", price));
    li.appendChild(link);
    if (item.reason) li.appendChild(element("p", "recsvc-reason", item.reason));
    return li;
  }

  function render(container, placement, data) {
    injectCss();
    var section = element("section", "recsvc-widget");
    var title = option(container, "title", TITLES[placement]);
    var heading = element("h2", "recsvc-title", title);
    heading.id = "recsvc-title-" + data.recommendation_id;
    section.setAttribute("aria-labelledby", heading.id);
    section.setAttribute("data-recommendation-id", data.recommendation_id);
    var list = element("ul", "recsvc-list");
    list.setAttribute("role", "list"); // keeps list semantics under list-style:none (Safari)
    data.items.forEach(function (item, index) {
      var position = typeof item.rank === "number" ? item.rank : index + 1;
      list.appendChild(card(container, item, position, data.recommendation_id));
    });
    section.appendChild(heading);
    section.appendChild(list);
    clear(container);
    container.appendChild(section);
    list.addEventListener(
      "click",
      guard("click handler", function (event) {
        onClick(container, event, data.recommendation_id);
      }),
    );
    var observer = observeImpressions(list, data.recommendation_id);
    if (observer) observers.set(container, observer);
  }

  /** Empty a container and stop watching its old cards. */
  function clear(container) {
    var observer = observers.get(container);
    if (observer) observer.disconnect();
    observers.delete(container);
    container.textContent = "";
  }

  function onClick(container, event, recommendationId) {
    var link = event.target && event.target.closest ? event.target.closest(".recsvc-link") : null;
    if (!link) return;
    var itemId = link.getAttribute("data-item-id");
    var position = positiveInt(link.getAttribute("data-position"), undefined);
    enqueue("click", itemId, { recommendation_id: recommendationId, position: position });
    rememberAttribution(itemId, recommendationId, position);
    flush(true); // a link click usually unloads the page next: beacon it now
    dispatch(container, "recsvc:click", {
      item_id: itemId,
      recommendation_id: recommendationId,
      position: position,
    });
  }

  /** One `impression` per card once at least half of it has been in the viewport. Without
   * IntersectionObserver no impression is reported (the service still logs what it served). */
  function observeImpressions(list, recommendationId) {
    if (typeof window.IntersectionObserver !== "function") return null;
    var observer = new window.IntersectionObserver(
      guard("impression observer", function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting || entry.intersectionRatio < 0.5) return;
          observer.unobserve(entry.target);
          enqueue("impression", entry.target.getAttribute("data-item-id"), {
            recommendation_id: recommendationId,
            position: positiveInt(entry.target.getAttribute("data-position"), undefined),
          });
        });
      }),
      { threshold: [0.5] },
    );
    Array.prototype.forEach.call(list.children, function (li) {
      observer.observe(li);
    });
    return observer;
  }

  function dispatch(container, name, detail) {
    if (typeof window.CustomEvent !== "function") return;
    container.dispatchEvent(new window.CustomEvent(name, { bubbles: true, detail: detail }));
  }

  /** Fetch and render one container; marks it with data-recsvc-state (loading, ready,
   * empty, error). A failure leaves the container empty and logs one warning. When a
   * container is loaded again before an answer arrives, only the latest answer counts. */
  function load(container) {
    var token = {};
    latest.set(container, token);
    var placement = option(container, "placement", "");
    container.setAttribute("data-recsvc-state", "loading");
    var user = option(container, "user", "");
    if (user) subjectUser = user;
    var request;
    try {
      if (placement === "cart" && !cartItems(container).length) {
        empty(container);
        return Promise.resolve();
      }
      request = buildRequest(container, placement);
    } catch (error) {
      return Promise.resolve(fail(container, error));
    }
    var timeout = positiveInt(option(container, "timeout", ""), DEFAULT_TIMEOUT_MS);
    return fetchJson(request.url, request.init, timeout)
      .then(checkResponse)
      .then(function (data) {
        if (latest.get(container) !== token) return;
        if (!data.items.length) {
          empty(container);
          return;
        }
        render(container, placement, data);
        container.setAttribute("data-recsvc-state", "ready");
        dispatch(container, "recsvc:rendered", {
          recommendation_id: data.recommendation_id,
          count: data.items.length,
        });
      })
      .catch(function (error) {
        if (latest.get(container) === token) fail(container, error);
      });
  }

  function empty(container) {
    clear(container);
    container.setAttribute("data-recsvc-state", "empty");
  }

  function fail(container, error) {
    var reason = error && error.name === "AbortError" ? "timed out" : error && error.message;
    clear(container);
    container.setAttribute("data-recsvc-state", "error");
    warn(
      "no recommendations for placement " +
        JSON.stringify(container.getAttribute("data-recsvc-placement")) +
        ": " +
        reason,
    );
  }

  // ---- public API ------------------------------------------------------------------------

  /** Render every container under `root` (default: the document) not rendered yet. */
  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var containers = scope.querySelectorAll("[data-recsvc-placement]:not([data-recsvc-state])");
    return Promise.all(Array.prototype.map.call(containers, load)).then(function () {
      return undefined;
    });
  }

  /** Render `container` again (after its data attributes changed). */
  function refresh(container) {
    if (!container || !container.getAttribute) return Promise.resolve();
    return load(container);
  }

  function attribution(itemId) {
    return readAttribution()[itemId] || null;
  }

  function attributedTo(itemId, recommendationId) {
    if (typeof recommendationId === "string" && recommendationId) return recommendationId;
    var remembered = attribution(itemId);
    return remembered ? remembered.recommendation_id : undefined;
  }

  function reportView(itemId) {
    enqueue("view", itemId, {});
  }

  /** An add-to-cart (or order placed) of `itemId`. Without `recommendationId`, the
   * recommendation whose card the visitor clicked for this item in this session, if any. */
  function reportBid(itemId, recommendationId) {
    enqueue("bid", itemId, { recommendation_id: attributedTo(itemId, recommendationId) });
  }

  /** A paid order line of `amount` (≥ 0, money) for `itemId`; attribution as in reportBid. */
  function reportPurchase(itemId, amount, recommendationId) {
    var details = { recommendation_id: attributedTo(itemId, recommendationId) };
    if (typeof amount === "number" && isFinite(amount) && amount >= 0) details.amount = amount;
    else if (amount !== undefined && amount !== null) warn("purchase amount ignored: " + amount);
    enqueue("purchase", itemId, details);
  }

  function setUser(userId) {
    subjectUser = typeof userId === "string" && userId ? userId : null;
  }

  function start() {
    var existing = window.recsvc;
    if (existing && existing.version) {
      existing.scan(); // the script was included twice: one instance is enough
      return;
    }
    window.recsvc = {
      version: "1",
      scan: guard("scan", scan),
      refresh: guard("refresh", refresh),
      flush: guard("flush", function () {
        return flush(false);
      }),
      reportView: guard("reportView", reportView),
      reportBid: guard("reportBid", reportBid),
      reportPurchase: guard("reportPurchase", reportPurchase),
      setUser: guard("setUser", setUser),
      attribution: guard("attribution", attribution),
      anonymousId: guard("anonymousId", anonymousId),
    };
    setUser(option(null, "user", ""));
    var onHide = guard("unload flush", function () {
      flush(true);
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") onHide();
    });
    window.addEventListener("pagehide", onHide);
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", guard("scan", scan));
    } else {
      scan();
    }
  }

  try {
    if (!modern) {
      warn("this browser is too old (no fetch or WeakMap); no recommendations");
    } else {
      start();
    }
  } catch (error) {
    warn("failed to start", error);
  }
})(window, document);
