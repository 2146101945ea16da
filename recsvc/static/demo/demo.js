/* The demo store's own code: catalog pages, a cart in localStorage, the shopper picker.
 * Recommendations and feedback events are the widget's job (window.recsvc, loaded first);
 * this file only sets the widget containers' data attributes and calls its small API. */
(function () {
  "use strict";

  var CART_KEY = "recsvc-demo.cart";
  var SHOPPER_KEY = "recsvc-demo.shopper";

  function byId(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function money(value) {
    if (typeof value !== "number" || !isFinite(value)) return "price on request";
    return new Intl.NumberFormat(undefined, { style: "currency", currency: "GBP" }).format(value);
  }

  function getJson(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) throw new Error(url + ": HTTP " + response.status);
      return response.json();
    });
  }

  function read(key, fallback) {
    try {
      var value = JSON.parse(localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (error) {
      return fallback;
    }
  }

  function write(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* private mode: the demo then forgets between pages */
    }
  }

  function widget() {
    return window.recsvc || null;
  }

  function shopper() {
    var stored = read(SHOPPER_KEY, null);
    return stored && typeof stored.user_id === "string" ? stored : null;
  }

  function cartLines() {
    var lines = read(CART_KEY, []);
    return Array.isArray(lines) ? lines : [];
  }

  function saveCart(lines) {
    write(CART_KEY, lines);
    byId("cart-count").textContent = String(
      lines.reduce(function (sum, line) {
        return sum + line.qty;
      }, 0),
    );
  }

  /** Set a widget container's data-recsvc-* attributes and (re)render it. */
  function mount(container, attributes) {
    var who = shopper();
    if (who) {
      attributes.user = who.user_id;
      if (who.country) attributes.country = who.country;
    }
    Object.keys(attributes).forEach(function (name) {
      container.setAttribute("data-recsvc-" + name, String(attributes[name]));
    });
    if (widget()) widget().refresh(container);
  }

  function showError(error) {
    var notice = el("p", "notice", "The demo could not load the catalog: " + error.message);
    document.querySelector("main").prepend(notice);
  }

  // ---- header and footer, on every page ------------------------------------------------

  function setUpChrome() {
    saveCart(cartLines());
    var who = shopper();
    if (widget()) {
      widget().setUser(who ? who.user_id : "");
      byId("anonymous-id").textContent = widget().anonymousId();
    }
    var query = new URLSearchParams(location.search).get("q") || "";
    byId("search-q").value = query;
    var select = byId("shopper");
    getJson("api/users?limit=8")
      .then(function (data) {
        data.users.forEach(function (user) {
          var label = "shopper " + user.user_id + (user.country ? " (" + user.country + ")" : "");
          var option = el("option", "", label);
          option.value = JSON.stringify({ user_id: user.user_id, country: user.country });
          option.selected = Boolean(who && who.user_id === user.user_id);
          select.appendChild(option);
        });
      })
      .catch(showError);
    select.addEventListener("change", function () {
      write(SHOPPER_KEY, select.value ? JSON.parse(select.value) : null);
      location.reload();
    });
  }

  function showModelVersion(version) {
    byId("model-version").textContent = version;
  }

  // ---- pages ---------------------------------------------------------------------------

  function productCard(item) {
    var li = el("li", "product-card");
    var link = el("a");
    link.href = "product.html?item=" + encodeURIComponent(item.item_id);
    link.setAttribute("data-item-id", item.item_id);
    var thumb = el("span", "thumb");
    thumb.setAttribute("aria-hidden", "true");
    link.append(thumb, el("span", "name", item.name), el("span", "price", money(item.price)));
    li.appendChild(link);
    return li;
  }

  function homePage() {
    var query = new URLSearchParams(location.search).get("q") || "";
    mount(byId("for-you"), { placement: "next", k: 6, "page-type": "home" });
    if (query) {
      byId("page-title").textContent = "Search";
      byId("products-title").textContent = "Products matching “" + query + "”";
    }
    getJson("api/catalog?limit=24&q=" + encodeURIComponent(query))
      .then(function (data) {
        showModelVersion(data.model_version);
        var list = byId("products");
        data.items.forEach(function (item) {
          list.appendChild(productCard(item));
        });
        if (!data.items.length) list.replaceWith(el("p", "", "No product matches."));
      })
      .catch(showError);
  }

  function productPage() {
    var itemId = new URLSearchParams(location.search).get("item");
    if (!itemId) {
      location.replace("./");
      return;
    }
    if (widget()) widget().reportView(itemId);
    getJson("api/catalog?limit=1&q=" + encodeURIComponent(itemId))
      .then(function (data) {
        showModelVersion(data.model_version);
        var item = data.items[0];
        var found = item && item.item_id === itemId;
        mount(byId("related"), {
          placement: "related",
          item: itemId,
          k: 6,
          "page-type": "product",
          category: found && item.category.length ? item.category[0] : "",
        });
        if (found) showProduct(item);
        else byId("product-missing").hidden = false;
      })
      .catch(showError);
  }

  function showProduct(item) {
    document.title = item.name + " · recsvc demo store";
    byId("product-name").textContent = item.name;
    byId("product-category").textContent = item.category.join(" › ");
    byId("product-price").textContent = money(item.price);
    byId("product-stock").textContent = item.available ? "in stock" : "out of stock";
    byId("product").hidden = false;
    var button = byId("add-to-cart");
    button.disabled = !item.available;
    button.addEventListener("click", function () {
      addToCart(item);
      byId("added").hidden = false;
    });
  }

  function addToCart(item) {
    var lines = cartLines();
    var line = lines.find(function (existing) {
      return existing.item_id === item.item_id;
    });
    var attributed = widget() ? widget().attribution(item.item_id) : null;
    if (line) line.qty += 1;
    else {
      lines.push({
        item_id: item.item_id,
        name: item.name,
        price: item.price,
        qty: 1,
        recommendation_id: attributed ? attributed.recommendation_id : null,
      });
    }
    saveCart(lines);
    if (widget()) widget().reportBid(item.item_id);
  }

  function cartPage() {
    getJson("api/catalog?limit=1")
      .then(function (data) {
        showModelVersion(data.model_version);
      })
      .catch(showError);
    renderCart();
    byId("place-order").addEventListener("click", placeOrder);
  }

  function lineTotal(line) {
    return typeof line.price === "number" ? line.price * line.qty : null;
  }

  function renderCart() {
    var lines = cartLines();
    var body = byId("cart-body");
    body.textContent = "";
    lines.forEach(function (line, index) {
      var row = el("tr");
      var name = el("td");
      var link = el("a", "", line.name);
      link.href = "product.html?item=" + encodeURIComponent(line.item_id);
      name.appendChild(link);
      var remove = el("button", "button secondary", "Remove");
      remove.type = "button";
      remove.addEventListener("click", function () {
        lines.splice(index, 1);
        saveCart(lines);
        renderCart();
      });
      var action = el("td");
      action.appendChild(remove);
      row.append(
        name,
        el("td", "num", String(line.qty)),
        el("td", "num", money(lineTotal(line))),
        action,
      );
      body.appendChild(row);
    });
    var total = lines.reduce(function (sum, line) {
      return sum + (lineTotal(line) || 0);
    }, 0);
    byId("cart-total").textContent = money(total);
    byId("cart-lines").hidden = !lines.length;
    byId("cart-empty").hidden = Boolean(lines.length);
    var complete = byId("complete");
    if (lines.length) {
      var ids = lines.map(function (line) {
        return line.item_id;
      });
      mount(complete, { placement: "cart", cart: ids.join(","), k: 6, "page-type": "cart" });
    } else {
      complete.textContent = "";
    }
  }

  function placeOrder() {
    var lines = cartLines();
    var api = widget();
    if (api) {
      lines.forEach(function (line) {
        api.reportPurchase(line.item_id, lineTotal(line), line.recommendation_id || undefined);
      });
      api.flush();
    }
    var total = lines.reduce(function (sum, line) {
      return sum + (lineTotal(line) || 0);
    }, 0);
    saveCart([]);
    renderCart();
    var done = byId("order-placed");
    done.textContent =
      "Thank you! Your order of " + lines.length + " product(s), " + money(total) + ", is placed.";
    done.hidden = false;
  }

  var PAGES = { home: homePage, product: productPage, cart: cartPage };

  setUpChrome();
  PAGES[document.body.getAttribute("data-page")]();
})();
