// The brief's region search: typing asks /campaigns/regions/?q= and offers the matches; picking
// one adds its id to the comma-separated regions field (which also works typed by hand).
(function () {
  const box = document.querySelector("[data-region-search]");
  if (!box) return;
  const search = box.querySelector("input[type=search]");
  const options = box.querySelector("datalist");
  const target = document.getElementById(box.dataset.target);
  let found = new Map();
  search.addEventListener("input", async () => {
    const picked = found.get(search.value);
    if (picked !== undefined) {
      const ids = target.value.split(/[\s,;]+/).filter(Boolean);
      if (!ids.includes(String(picked))) ids.push(String(picked));
      target.value = ids.join(", ");
      search.value = "";
      return;
    }
    if (search.value.trim().length < 2) return;
    const response = await fetch(box.dataset.url + "?q=" + encodeURIComponent(search.value));
    if (!response.ok) return;
    const { results } = await response.json();
    found = new Map(results.map((region) => [`${region.name} (${region.id})`, region.id]));
    options.replaceChildren(...[...found.keys()].map((label) => Object.assign(document.createElement("option"), { value: label })));
  });
})();
