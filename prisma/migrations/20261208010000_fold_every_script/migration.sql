-- Names in every script are searched and checked for duplicates. emr_fold (20261129030000) kept
-- only a-z and 0-9 after its Latin accent table, so a Cyrillic, Greek, CJK or Arabic name folded to
-- '': rm_patients.search_text held only the MRN, a search for "Петров" matched every row (LIKE
-- '%' || '' || '%') and listed the first patients of the whole list, and the duplicate check
-- (which skips an empty folded name) never compared such names, so Иван Петров registered twice
-- without a warning.
--
-- The fold now keeps the letters and digits of every script, lower case, each word separated by
-- one space. Written with explicit code points rather than lower() and [[:alnum:]], which follow
-- the database's LC_CTYPE: under the C locale they know ASCII only, and the embedded database
-- and a server need not share a locale. In order:
-- 1. translate(): upper case to lower case for Latin, Greek, Cyrillic, Armenian and Georgian, and
--    Latin and Greek letters with accents to their base letter as before ("Nunez" finds "Núñez";
--    Greek tonos likewise), ё to е (Russian writes them interchangeably), full-width Latin letters
--    and digits to ASCII. Generated from Unicode's decompositions; letters without one (ø, ł, đ,
--    ħ, ı) keep the base letter the first fold gave them; script g and alpha (ɡ, ɑ, look-alikes of
--    g and a) fold to g and a, and final sigma to sigma. translate() looks each character up from
--    the start of its table, so the table begins with what names are mostly made of: ASCII (to
--    itself or to lower case), then Latin-1, Cyrillic and Greek. In the order of Unicode instead,
--    a plain name scanned the whole table for each of its letters: ten times the first fold's
--    cost, which every search pays for each word it folds.
-- 2. lower() for what remains (ASCII under any locale; more under a UTF-8 one).
-- 3. Combining accents, Hebrew points, Arabic harakat and tatweel are removed, so a name stored
--    decomposed (NFD, before names were normalised on input) folds as its composed form does.
--    Marks that Indic and South-East Asian scripts write vowels with are letters' parts: kept.
-- 4. Anything else (spaces, punctuation, symbols, invisible characters) separates words.
-- PL/pgSQL, not SQL: an SQL function is inlined into every statement that calls it, and a search
-- folds each typed word several times, so each planning copied this body with its tables again
-- (patient search 1.6 times slower in the bench, row 11). PL/pgSQL keeps one parsed copy per
-- connection; an index on emr_fold(family_name) is matched by the call as written.
CREATE OR REPLACE FUNCTION emr_fold(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $fold$
BEGIN
    RETURN trim(regexp_replace(regexp_replace(lower(translate(value,
        'abcdefghijklmnopqrstuvwxyz 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåçèéêëìíîïñòóôõöùúûüýÿЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯёѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢҤҦҨҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶӸӺӼӾͰͲͶͿΆΈΉΊΌΎΏΐΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫάέήίΰϊϋόύώϏϓϔϘϚϜϞϠϢϤϦϨϪϬϮϴϷϹϺϽϾϿĀāĂăĄąĆćĈĉĊċČčĎďĐĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦĨĩĪīĬĭĮįİĲĴĵĶķĹĺĻļĽľĿŁŃńŅņŇňŊŌōŎŏŐőŒŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẞẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹỺỼỾƁƂƄƆƇƉƊƋƎƏƐƑƓƔƖƗƘƜƝƟƠơƢƤƦƧƩƬƮƯưƱƲƳƵƷƸƼǄǅǇǈǊǋǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǢǣǤǦǧǨǩǪǫǬǭǮǯǰǱǲǴǵǶǷǸǹǺǻǼǽǾǿȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȜȞȟȠȢȤȦȧȨȩȪȫȬȭȮȯȰȱȲȳȺȻȽȾɁɃɄɅɆɈɊɌɎԀԂԄԆԈԊԌԎԐԒԔԖԘԚԜԞԠԢԤԦԨԪԬԮἀἁἂἃἄἅἆἇἈἉἊἋἌἍἎἏἐἑἒἓἔἕἘἙἚἛἜἝἠἡἢἣἤἥἦἧἨἩἪἫἬἭἮἯἰἱἲἳἴἵἶἷἸἹἺἻἼἽἾἿὀὁὂὃὄὅὈὉὊὋὌὍὐὑὒὓὔὕὖὗὙὛὝὟὠὡὢὣὤὥὦὧὨὩὪὫὬὭὮὯὰάὲέὴήὶίὸόὺύὼώᾀᾁᾂᾃᾄᾅᾆᾇᾈᾉᾊᾋᾌᾍᾎᾏᾐᾑᾒᾓᾔᾕᾖᾗᾘᾙᾚᾛᾜᾝᾞᾟᾠᾡᾢᾣᾤᾥᾦᾧᾨᾩᾪᾫᾬᾭᾮᾯᾰᾱᾲᾳᾴᾶᾷᾸᾹᾺΆᾼιῂῃῄῆῇῈΈῊΉῌῐῑῒΐῖῗῘῙῚΊῠῡῢΰῤῥῦῧῨῩῪΎῬῲῳῴῶῷῸΌῺΏῼԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖႠႡႢႣႤႥႦႧႨႩႪႫႬႭႮႯႰႱႲႳႴႵႶႷႸႹႺႻႼႽႾႿჀჁჂჃჄჅøłıđħɡɑςＡａＢｂＣｃＤｄＥｅＦｆＧｇＨｈＩｉＪｊＫｋＬｌＭｍＮｎＯｏＰｐＱｑＲｒＳｓＴｔＵｕＶｖＷｗＸｘＹｙＺｚ０１２３４５６７８９',
        'abcdefghijklmnopqrstuvwxyz 0123456789abcdefghijklmnopqrstuvwxyzaaaaaaæceeeeiiiiðnoooooouuuuyþaaaaaaceeeeiiiinooooouuuuyyѐеђѓєѕіїјљњћќѝўџабвгдежзийклмнопрстуфхцчшщъыьэюяеѡѣѥѧѩѫѭѯѱѳѵѷѹѻѽѿҁҋҍҏґғҕҗҙқҝҟҡңҥҧҩҫҭүұҳҵҷҹһҽҿӏӂӄӆӈӊӌӎӑӓӕӗәӛӝӟӡӣӥӧөӫӭӯӱӳӵӷӹӻӽӿͱͳͷϳαεηιουωιαβγδεζηθικλμνξοπρστυφχψωιυαεηιυιυουωϗϒϒϙϛϝϟϡϣϥϧϩϫϭϯθϸϲϻͻͼͽaaaaaaccccccccdddeeeeeeeeeegggggggghhhiiiiiiiiiĳjjkkllllllŀlnnnnnnŋooooooœrrrrrrssssssssttttŧuuuuuuuuuuuuwwyyyzzzzzzaabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwyſßaaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyyỻỽỿɓƃƅɔƈɖɗƌǝəɛƒɠɣɩɨƙɯɲɵooƣƥʀƨʃƭʈuuʊʋƴƶʒƹƽǆǆǉǉǌǌaaiioouuuuuuuuuuaaaaææǥggkkooooʒʒjǳǳggƕƿnnaaææøøaaaaeeeeiiiioooorrrruuuussttȝhhƞȣȥaaeeooooooooyyⱥȼƚⱦɂƀʉʌɇɉɋɍɏԁԃԅԇԉԋԍԏԑԓԕԗԙԛԝԟԡԣԥԧԩԫԭԯααααααααααααααααεεεεεεεεεεεεηηηηηηηηηηηηηηηηιιιιιιιιιιιιιιιιοοοοοοοοοοοουυυυυυυυυυυυωωωωωωωωωωωωωωωωααεεηηιιοουυωωααααααααααααααααηηηηηηηηηηηηηηηηωωωωωωωωωωωωωωωωααααααααααααιηηηηηεεηηηιιιιιιιιιιυυυυρρυυυυυυρωωωωωοοωωωաբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆⴀⴁⴂⴃⴄⴅⴆⴇⴈⴉⴊⴋⴌⴍⴎⴏⴐⴑⴒⴓⴔⴕⴖⴗⴘⴙⴚⴛⴜⴝⴞⴟⴠⴡⴢⴣⴤⴥolidhgaσaabbccddeeffgghhiijjkkllmmnnooppqqrrssttuuvvwwxxyyzz0123456789')),
        '[\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\u0300-\u036F\u0483-\u0489\u0591-\u05BD\u05BF\u05C1\u05C2\u05C4\u05C5\u05C7\u0610-\u061A\u0640\u064B-\u065F\u0670]+', '', 'g'),
        '[^0-9a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u03FF\u0400-\u0481\u048A-\u052F\u0531-\u0556\u0560-\u0588\u05D0-\u05EA\u05EF-\u05F2\u0620-\u063F\u0641-\u064A\u0660-\u0669\u066E\u066F\u0671-\u06D3\u06D5\u06EE-\u06FC\u06FF\u0900-\u0963\u0966-\u0DFF\u0E01-\u0E3A\u0E40-\u0E4E\u0E50-\u0E59\u0E80-\u0EFF\u0F40-\u0FBC\u1000-\u109F\u10A0-\u10FF\u1100-\u11FF\u1200-\u135F\u1369-\u137C\u1780-\u17D3\u17DB-\u17DD\u17E0-\u17E9\u1820-\u1878\u1E00-\u1EFF\u1F00-\u1FBC\u1FC2-\u1FCC\u1FD0-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FFC\u3041-\u3096\u309D-\u309F\u30A1-\u30FA\u30FC-\u30FF\u3105-\u312F\u3131-\u318E\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA48C\uAC00-\uD7A3\uF900-\uFAFF\U00020000-\U0003134F]+', ' ', 'g'));
END
$fold$;

-- rm_patients.search_text is generated from emr_fold, and rm_patients_duplicate_idx indexes
-- emr_fold(family_name): PostgreSQL recomputes neither when the function changes. The rows whose
-- fold changes (a name in another script, or with a letter the first fold dropped) are rewritten;
-- a generated column is computed again only when a column it is generated from is set, hence
-- the family name set to itself. The duplicate index is rebuilt as well: an update that leaves
-- every indexed column as it was may keep its entry where it was (HOT).
UPDATE rm_patients SET family_name = family_name
 WHERE search_text IS DISTINCT FROM emr_fold(family_name || ' ' || given_name || ' ' || mrn);
REINDEX INDEX rm_patients_duplicate_idx;
