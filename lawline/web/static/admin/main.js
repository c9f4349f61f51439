// The admins' page: users, duty lawyers with their week's shifts, leave and extra duty, the routing policy,
// the public-opinion watch list, village terminals.
// Each screen calls the same API the command line does (lawline user, lawline terminal...).
import { loadLawyers, loadRoster, wireLawyers } from "./lawyers.js";
import { loadPolicy, wirePolicy } from "./policy.js";
import { loadTerminals, wireTerminals } from "./terminals.js";
import { loadUsers, wireUsers } from "./users.js";
import { loadWatchlist, wireWatchlist } from "./watchlist.js";

async function start() {
  const me = await fetch("/api/session");
  if (me.status === 401) { location.href = "/login"; return; }
  wireUsers();
  wireLawyers();
  wireTerminals();
  wireWatchlist();
  wirePolicy();
  await loadRoster();  // the week shown, before the lawyers are drawn on it
  await Promise.all([loadUsers(), loadLawyers(), loadTerminals(), loadWatchlist(), loadPolicy()]);
}
start();
