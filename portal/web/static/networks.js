// The network picker of /me/accounts: a text box above the list of networks hides the ones
// whose name does not match what is typed (accent- and case-insensitive, on the label in the
// page's language, the English label and the network's name). Without JavaScript the box stays
// hidden and every network is a plain link to its add page.
//
// Keys: Enter in the box opens the first network shown, Escape clears the box, the arrow keys
// go from the box to the networks and between them.
"use strict";

(() => {
  const list = document.getElementById("network-list");
  const box = document.getElementById("network-filter");
  const none = document.getElementById("network-none");
  if (!list || !box || !none) return;

  const fold = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().trim();
  const items = [...list.querySelectorAll("li[data-match]")].map((item) => ({
    item,
    link: item.querySelector("a"),
    text: fold(item.dataset.match),
  }));
  const shown = () => items.filter(({ item }) => !item.hidden).map(({ link }) => link);

  const filter = () => {
    const words = fold(box.value).split(/\s+/).filter(Boolean);
    let count = 0;
    for (const { item, text } of items) {
      const match = words.every((word) => text.includes(word));
      item.hidden = !match;
      if (match) count += 1;
    }
    none.textContent = count ? "" : none.dataset.message;
  };

  box.addEventListener("input", filter);
  box.addEventListener("keydown", (event) => {
    const first = shown()[0];
    if (event.key === "Escape" && box.value) {
      event.preventDefault();
      box.value = "";
      filter();
    } else if (event.key === "Enter" && first) {
      event.preventDefault();
      first.click();
    } else if (event.key === "ArrowDown" && first) {
      event.preventDefault();
      first.focus();
    }
  });
  list.addEventListener("keydown", (event) => {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    const links = shown();
    const at = links.indexOf(document.activeElement);
    if (!step || at < 0) return;
    event.preventDefault();
    const next = at + step;
    if (next < 0) box.focus();
    else links[Math.min(next, links.length - 1)].focus();
  });

  box.parentElement.hidden = false;
  filter(); // a value the browser kept on going back
})();
