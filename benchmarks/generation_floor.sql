-- The physical floor of generating benchmarks/generate_report.py's report: one set-based
-- INSERT ... SELECT that prices the benchmark customer's billable orders against its rate card
-- (the nine lines build_rate_card creates) and writes the report lines, nothing else. It leaves
-- out the lines' explanation keys and detail, which generation writes too (building that text
-- in SQL, generation_set_based.sql, takes longer than generation does).
--
-- benchmarks/generate_vs_floor.py fills the placeholders (Python format fields): orders with
-- the SQL of the selector generation reads (billing.selectors.orders.billable_orders), report
-- with the id the lines are written under, customer, special and handled with the SKU lists of
-- the "Special handling" line and of the "SKU handling" rule, and service_fee ... service_canada
-- with the service ids. Prices and tiers are the ones build_rate_card sets; the script checks
-- that the floor writes as many lines, for the same total, as generation, so a drift shows.
--
-- The benchmark's SKUs are already canonical (no spaces, hyphens or lower case), so SKUs are
-- compared as stored; rules compare trimmed, case-folded text as the engine does.
WITH orders AS (
    SELECT id, close_date, transaction_id, carrier, packages, weight_lb, ship_to_country
    FROM ({orders}) AS billable (id, close_date, transaction_id, carrier, packages, weight_lb, ship_to_country)
),
units AS (
    SELECT l.order_id, l.sku, SUM(l.quantity) AS qty
    FROM billing_orderline AS l
    JOIN orders AS o ON o.id = l.order_id
    WHERE l.quantity > 0
    GROUP BY l.order_id, l.sku
),
per_order AS (
    SELECT
        u.order_id,
        SUM(u.qty) AS units,
        COUNT(*) AS skus,
        COALESCE(SUM(u.qty) FILTER (WHERE u.sku = ANY({special})), 0) AS special_units,
        COALESCE(SUM(u.qty / p.case_size) FILTER (WHERE NOT u.sku = ANY({special})), 0) AS cases,
        COALESCE(
            SUM(CASE WHEN p.case_size IS NULL THEN u.qty ELSE u.qty % p.case_size END)
                FILTER (WHERE NOT u.sku = ANY({special})),
            0
        ) AS eaches,
        BOOL_OR(u.sku = ANY({handled})) AS handled
    FROM units AS u
    LEFT JOIN billing_product AS p ON p.customer_id = {customer} AND p.sku_key = u.sku
    GROUP BY u.order_id
),
priced AS (
    SELECT
        o.id,
        LOWER(BTRIM(o.carrier)) AS carrier,
        LOWER(BTRIM(o.ship_to_country)) AS country,
        o.packages,
        o.weight_lb,
        po.units,
        po.skus,
        po.special_units,
        po.cases,
        po.eaches,
        po.handled,
        -- The period's units before and after this order, in the canonical order the tiers use.
        SUM(po.units) OVER (ORDER BY o.close_date NULLS FIRST, o.transaction_id COLLATE "C", o.id) AS tier_end
    FROM orders AS o
    JOIN per_order AS po ON po.order_id = o.id
),
graduated AS (
    SELECT
        priced.*,
        ROUND(
            0.0500 * GREATEST(0, LEAST(tier_end, 100000) - (tier_end - units))
            + 0.0400 * GREATEST(0, LEAST(tier_end, 250000) - GREATEST(tier_end - units, 100000))
            + 0.0300 * GREATEST(0, tier_end - GREATEST(tier_end - units, 250000)),
            2
        ) AS tier_amount
    FROM priced
)
INSERT INTO billing_reportline (report_id, order_id, service_id, service_name, charge_type, quantity, unit_price, amount)
SELECT {report}, g.id, line.service_id, line.service_name, line.charge_type, line.quantity, line.unit_price,
       COALESCE(line.amount, ROUND(line.quantity * line.unit_price, 2))
FROM graduated AS g
CROSS JOIN LATERAL (
    VALUES
        ({service_fee}, 'Bench Order fee', 'per_order', 1::numeric, 1.2500, NULL::numeric, TRUE),
        ({service_special}, 'Bench Special handling', 'per_unit', g.special_units::numeric, 0.4000, NULL, TRUE),
        ({service_case}, 'Bench Case pick', 'case_pick', g.cases::numeric, 0.9000, NULL, TRUE),
        ({service_each}, 'Bench Each pick', 'each_pick', g.eaches::numeric, 0.1800, NULL, TRUE),
        ({service_tier}, 'Bench Units (graduated)', 'tiered', g.units::numeric,
            ROUND(g.tier_amount / NULLIF(g.units, 0), 4), g.tier_amount, TRUE),
        ({service_package}, 'Bench Package fee', 'per_package', g.packages::numeric, 0.7500, NULL,
            g.carrier IN ('ups', 'fedex') AND g.packages >= 1),
        ({service_heavy}, 'Bench Heavy order', 'per_weight_lb', g.weight_lb, 0.0600, NULL, g.weight_lb > 20),
        ({service_sku}, 'Bench SKU handling', 'per_sku', g.skus::numeric, 0.3500, NULL, g.handled AND g.country <> 'gb'),
        ({service_canada}, 'Bench Canada surcharge', 'per_order', 1::numeric, 3.0000, NULL, g.country = 'ca')
) AS line (service_id, service_name, charge_type, quantity, unit_price, amount, applies)
WHERE line.applies AND line.quantity > 0
