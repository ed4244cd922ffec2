// /api/managers: managers' broker accounts (read alerts, publish acks) and their own HTTP API
// tokens (read, and acknowledge alerts as themselves). The broker holds the accounts; the hub
// holds the tokens' digests. Passwords and tokens are shown once, when made.
#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "api_json.hpp"
#include "kiosk/hub/hub.hpp"
#include "kiosk/protocol/ids.hpp"

namespace kiosk::hub {

namespace http = boost::beast::http;
namespace json = boost::json;

void Hub::route_managers(const HttpRequest& req, const std::shared_ptr<HttpSession>& session,
                         const std::vector<std::string>& seg) {
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool post = req.method() == http::verb::post;
  if (seg.size() == 1 && get) return list_managers(req, session);
  if (seg.size() == 1 && post) return add_manager(req, session);
  if (seg.size() == 3 && post && (seg[2] == "remove" || seg[2] == "token")) {
    const auto& id = seg[1];
    if (auto e = protocol::check_id("id", id)) return session->send(error_response(req, 400, e->message()));
    return seg[2] == "remove" ? remove_manager(req, session, id) : issue_manager_token(req, session, id);
  }
  session->send(error_response(req, 404,
                               "managers: GET /api/managers, POST /api/managers {\"id\": ...}, "
                               "POST /api/managers/<id>/token or POST /api/managers/<id>/remove"));
}

std::optional<std::string> Hub::not_a_manager_id(const std::string& id) const {
  if (id == config_.username) return id + " is the hub's own broker account: pick another manager id";
  // Terminals and managers share the broker's names; a retired terminal may come back.
  if (const auto* d = registry_.device(id))
    return id + " is a terminal" + (d->retired ? " (retired)" : "") + ": pick another manager id";
  return std::nullopt;
}

void Hub::list_managers(const HttpRequest& req, const std::shared_ptr<HttpSession>& session) {
  // Who can still read and acknowledge alerts: accounts at the broker and API tokens at the hub.
  const bool broker_accounts = accounts_->connected().has_value();
  accounts_->list_managers([this, req, session, broker_accounts](std::optional<std::string> error,
                                                                  std::vector<std::string> at_broker) {
    // A partial list would tell whoever offboards a manager that nobody is left.
    if (error && broker_accounts) return session->send(error_response(req, 502, *error));
    const std::set<std::string> accounts(at_broker.begin(), at_broker.end());
    std::set<std::string> all(accounts);
    for (auto& m : manager_tokens_.managers()) all.insert(std::move(m));
    json::array ids;
    json::array details;
    for (const auto& m : all) {
      ids.emplace_back(m);
      details.push_back(json::object{
          {"id", m}, {"broker_account", accounts.count(m) > 0}, {"api_token", manager_tokens_.has_token(m)}});
    }
    json::object o{{"managers", std::move(ids)}, {"accounts", std::move(details)}};
    if (error) o["note"] = *error;
    session->send(json_response(req, 200, json::serialize(o)));
  });
}

void Hub::add_manager(const HttpRequest& req, const std::shared_ptr<HttpSession>& session) {
  auto fail = [&](unsigned status, const std::string& message) { session->send(error_response(req, status, message)); };
  std::string error;
  auto body = body_object(req, error);
  if (!body) return fail(400, error);
  auto id = string_field(*body, "id", true, error);
  if (!id) return fail(400, error);
  if (auto e = protocol::check_id("id", *id)) return fail(400, e->message());
  if (auto why = not_a_manager_id(*id)) return fail(409, *why);
  if (manager_tokens_.has_token(*id))
    return fail(409, "manager " + *id + " exists (it has an API token)");
  accounts_->add_manager(*id, [this, req, session, id = *id](AccountsResult result) {
    if (result.error) {
      session->send(error_response(req, result.conflict ? 409 : 502,
                                   "the broker refused the manager account: " + *result.error));
      return;
    }
    auto issued = manager_tokens_.issue(id, to_ms(clock_.wall_now()));
    json::object o{{"manager", id},
                   {"credentials", credentials_json(result.credentials)},
                   {"api_token", issued.token ? json::value(*issued.token) : json::value(nullptr)}};
    if (issued.error) {
      log_.warn("registry", "manager " + id + " has no API token: " + *issued.error);
      o["note"] = "no API token (" + *issued.error + "): the broker account works; 'kioskctl manager token " + id +
                  "' once the hub's database takes writes again";
    }
    log_.info("registry", "added manager " + id);
    session->send(json_response(req, 201, json::serialize(o)));
  });
}

void Hub::issue_manager_token(const HttpRequest& req, const std::shared_ptr<HttpSession>& session,
                              const std::string& id) {
  if (auto why = not_a_manager_id(id)) return session->send(error_response(req, 409, *why));
  auto issue = [this, req, session, id] {
    auto issued = manager_tokens_.issue(id, to_ms(clock_.wall_now()));
    if (issued.error) return session->send(error_response(req, 503, *issued.error));
    if (issued.replaced) {
      // Whoever holds the old token (a lost phone) loses the streams it opened with it, too.
      const auto closed = http_.streams().close_owned_by(id);
      log_.info("registry", "new API token for manager " + id + " (the one before no longer works" +
                                (closed > 0 ? "; " + std::to_string(closed) + " event streams opened with it closed" : "") +
                                ")");
    } else {
      log_.info("registry", "API token for manager " + id);
    }
    session->send(json_response(
        req, 200,
        json::serialize(json::object{{"manager", id}, {"api_token", *issued.token}, {"replaced", issued.replaced}})));
  };
  if (manager_tokens_.has_token(id)) return issue();
  // A manager added before API tokens has a broker account only. A removal while the broker is
  // asked could delete that account: then no token either.
  const bool broker_accounts = accounts_->connected().has_value();
  accounts_->list_managers([this, req, session, id, issue, broker_accounts, removals = manager_removals_](
                               std::optional<std::string> error, std::vector<std::string> managers) {
    if (!error && std::find(managers.begin(), managers.end(), id) != managers.end()) {
      if (manager_removals_ != removals)
        return session->send(error_response(req, 409, "a manager was removed meanwhile: try again"));
      return issue();
    }
    if (error && broker_accounts) return session->send(error_response(req, 502, *error));
    session->send(error_response(req, 404, "no manager " + id + " (check the id: kioskctl manager list; a new "
                                                                 "manager: kioskctl manager add " + id + ")"));
  });
}

void Hub::remove_manager(const HttpRequest& req, const std::shared_ptr<HttpSession>& session, const std::string& id) {
  // The token goes first, whoever else has the id: whatever the broker says, the manager no longer
  // reads or acks over HTTP, and the streams it opened end.
  ++manager_removals_;
  const auto revoked = manager_tokens_.revoke(id);
  if (revoked.error)
    return session->send(error_response(req, 503, "the manager keeps its API token: " + *revoked.error));
  if (revoked.had_token) http_.streams().close_owned_by(id);
  auto removed = [this, req, session, id] {
    log_.info("registry", "removed manager " + id);
    session->send(json_response(req, 200, json::serialize(json::object{{"manager", id}, {"removed", true}})));
  };
  if (const auto* d = registry_.device(id); d && !d->retired) {
    if (revoked.had_token) return removed();  // a terminal took the name later: its account stays
    return session->send(
        error_response(req, 409, id + " is a terminal, not a manager: use kioskctl device retire " + id));
  }
  if (!accounts_->connected().has_value()) {  // no broker accounts: the token was all there was
    if (revoked.had_token) return removed();
    return session->send(
        error_response(req, 404, "no manager " + id + " (check the manager id: kioskctl manager list)"));
  }
  accounts_->remove_manager(id, [req, session, removed, had_token = revoked.had_token](AccountsResult result) {
    if (!result.error || (result.not_found && had_token)) return removed();
    const std::string token = had_token ? "its API token is removed, but " : "";
    if (result.not_found) return session->send(error_response(req, 404, *result.error));
    if (result.conflict) return session->send(error_response(req, 409, token + *result.error));
    session->send(
        error_response(req, 502, token + "the broker refused to remove the manager account: " + *result.error));
  });
}

}  // namespace kiosk::hub
