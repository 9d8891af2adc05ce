#include <sqlite3.h>

/* sqlite3_db_config is variadic, which Swift cannot call: one wrapper per use. */
static inline int dwc_sqlite3_enable_qpsg(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)0);
}

/* Before the first connection: no memory statistics (SQLite keeps them under a global mutex
   taken at every allocation and free; dwc never reads them). */
static inline int dwc_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
