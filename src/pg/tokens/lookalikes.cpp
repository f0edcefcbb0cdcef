// Lookalikes of pg_pat's token and scope functions on the search_path.
#include "pg/tokens/lookalikes.hpp"

namespace pat::pg {

namespace {

// The functions applications pass tokens or scopes to, by name.
constexpr const char *kGuardedNames[] = {"pat_authenticate", "pat_validate", "pat_has_scope",
                                         "pat_require_scope", "pat_report_leaked"};

bool warned = false;
bool callback_registered = false;
// Cleared when pg_proc changes; the search_path setting's value when last looked (compared by
// value: a function with SET search_path sets it anew on every call).
bool proc_unchanged = false;
char *looked_with_path = nullptr;

void on_proc_change(Datum, int, uint32) {
    proc_unchanged = false;
}

// The first function named like one of kGuardedNames in a schema on the search_path other
// than own, or InvalidOid.
Oid find_lookalike(Oid own) {
    List *path = fetch_search_path(false);
    Oid found = InvalidOid;
    for (const char *name : kGuardedNames) {
        CatCList *candidates = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
        for (int i = 0; i < candidates->n_members && found == InvalidOid; ++i) {
            auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(&candidates->members[i]->tuple));
            if (proc->pronamespace != own && !isAnyTempNamespace(proc->pronamespace) &&
                list_member_oid(path, proc->pronamespace)) {
                found = proc->oid;
            }
        }
        ReleaseSysCacheList(candidates);
        if (found != InvalidOid) {
            break;
        }
    }
    list_free(path);
    return found;
}

}  // namespace

void warn_of_lookalike_functions(FunctionCallInfo fcinfo) {
    if (warned || (proc_unchanged && looked_with_path != nullptr &&
                   strcmp(looked_with_path, namespace_search_path) == 0)) {
        return;
    }
    if (fcinfo->flinfo == nullptr || !OidIsValid(fcinfo->flinfo->fn_oid)) {
        return;
    }
    if (!callback_registered) {
        CacheRegisterSyscacheCallback(PROCOID, on_proc_change, 0);
        callback_registered = true;
    }
    char *path = MemoryContextStrdup(TopMemoryContext, namespace_search_path);
    if (looked_with_path != nullptr) {
        pfree(looked_with_path);
    }
    looked_with_path = path;
    proc_unchanged = true;
    Oid own = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid lookalike = find_lookalike(own);
    if (lookalike == InvalidOid) {
        return;
    }
    warned = true;
    ereport(WARNING,
            (errcode(ERRCODE_WARNING),
             errmsg("function %s, on the search_path with pg_pat's functions in schema %s, may "
                    "be called instead of them",
                    format_procedure_qualified(lookalike), get_namespace_name(own)),
             errdetail("A call whose argument types it matches better, or that finds its schema "
                       "first on the search_path, runs it and hands it the token or scope. This "
                       "warning is given once per session."),
             errhint("Drop or rename it, and let only superusers create objects in the schemas "
                     "on the search_path; or schema-qualify calls to pg_pat's functions.")));
}

}  // namespace pat::pg
