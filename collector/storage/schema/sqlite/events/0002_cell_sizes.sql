-- A cell's size counts the people it may hold the same way whatever its mix of consent
-- (DESIGN 1.6): distinct visitor ids, plus distinct sessions of hits without a visitor id
-- (identified), plus hits without any id (anonymous). Roll-ups keep both parts.
ALTER TABLE rollups ADD COLUMN identified INTEGER;
ALTER TABLE rollups ADD COLUMN anonymous INTEGER;
-- Rows rolled up before this version kept only hits, distinct sessions and distinct
-- visitors. What follows from those is exact or a lower bound: without visitor ids every
-- session lacks one (identified = visits); with them, at least the visitors; without any
-- id every hit is anonymous, else at least none.
UPDATE rollups SET
    identified = CASE WHEN visitors > 0 THEN visitors ELSE visits END,
    anonymous = CASE WHEN visitors = 0 AND visits = 0 THEN hits ELSE 0 END;
